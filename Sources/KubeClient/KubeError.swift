/// A failed Kubernetes API call: the server's `Status` (reason, code, message) or a transport failure,
/// classified as worth retrying or not.
public struct KubeError: Error, CustomStringConvertible, Sendable {
    public enum Reason: String, Sendable {
        case notFound = "NotFound"
        case alreadyExists = "AlreadyExists"
        case conflict = "Conflict"
        case forbidden = "Forbidden"
        case unauthorized = "Unauthorized"
        case invalid = "Invalid"
        case badRequest = "BadRequest"
        case tooManyRequests = "TooManyRequests"
        case serverTimeout = "ServerTimeout"
        case timeout = "Timeout"
        case serviceUnavailable = "ServiceUnavailable"
        case internalError = "InternalError"
        case unsupportedMediaType = "UnsupportedMediaType"
        case methodNotAllowed = "MethodNotAllowed"
        /// No answer: connection refused or dropped, TLS failure, client-side timeout.
        case transport = "Transport"
        case unknown = "Unknown"
    }

    public let reason: Reason
    /// The HTTP status (0 for transport failures).
    public let code: Int
    public let message: String
    /// Seconds the server asked to wait (Retry-After or details.retryAfterSeconds).
    public let retryAfter: Double?
    /// "GET /api/v1/namespaces/x", for context.
    public let request: String
    /// Whether the answer was the API server's own `Status` object. A service proxy passes the
    /// backend's answer through unchanged, so a 403 from a store's firewall is not the API server's
    /// RBAC refusal, and only this tells them apart.
    public let fromAPIServer: Bool

    public init(reason: Reason, code: Int, message: String, retryAfter: Double? = nil, request: String, fromAPIServer: Bool = true) {
        self.reason = reason
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.request = request
        self.fromAPIServer = fromAPIServer
    }

    public var description: String {
        code == 0 ? "\(request): \(message)" : "\(request): \(code) \(reason.rawValue): \(message)"
    }

    /// Throttling, server-side timeouts, unavailability, internal errors, conflicts and transport
    /// failures pass; refusals (forbidden, invalid, not found...) do not.
    public var isRetryable: Bool {
        switch reason {
        case .tooManyRequests, .serverTimeout, .timeout, .serviceUnavailable, .internalError, .conflict, .transport: true
        case .unknown: code >= 500
        default: false
        }
    }

    static func reason(forCode code: Int) -> Reason {
        switch code {
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 405: .methodNotAllowed
        case 409: .conflict
        case 415: .unsupportedMediaType
        case 422: .invalid
        case 429: .tooManyRequests
        case 500: .internalError
        case 503: .serviceUnavailable
        case 504: .serverTimeout
        default: .unknown
        }
    }
}

/// The CLI's exit codes: one per outcome a script branches on. Documented in `storefleet --help`,
/// the README and docs/cli.md; `APIClientTests.httpStatusesMapToDocumentedExitCodes` pins the numbers,
/// which are a public contract.
public enum ExitStatus: Int32, CaseIterable, Sendable {
    case success = 0
    /// Anything not listed below: a 5xx, a 429 that outlasted the retries, a local file that cannot be written.
    case failure = 1
    /// Bad arguments or input the API refused as invalid (400, 413, 415, 422).
    case invalidInput = 2
    /// The watched job ended `failed`.
    case jobFailed = 3
    /// The watched job ended `cancelled` (a delete superseded it).
    case jobCancelled = 4
    /// `--timeout` passed before the job ended; the job goes on.
    case timedOut = 5
    /// The store, job, tenant, token or context does not exist (or is another tenant's).
    case notFound = 6
    /// No token, a revoked or expired one (401), or not allowed (403).
    case unauthorized = 7
    /// The request conflicts with the current state (409): a taken name, the store limit, a store not in a state for it.
    case conflict = 8
    /// The server could not be reached (connection refused, DNS, TLS, no answer).
    case unreachable = 9

    public var meaning: String {
        switch self {
        case .success: "success (the job succeeded)"
        case .failure: "other error (server error, rate limited, local I/O)"
        case .invalidInput: "invalid input (usage, 400, 413, 415, 422)"
        case .jobFailed: "the job failed"
        case .jobCancelled: "the job was cancelled"
        case .timedOut: "--timeout passed before the job ended"
        case .notFound: "not found (404, or no such context)"
        case .unauthorized: "unauthorized or forbidden (401, 403)"
        case .conflict: "conflict (409: name taken, store limit, wrong state)"
        case .unreachable: "server unreachable"
        }
    }

    /// The table in `--help`.
    public static var helpTable: String {
        "EXIT CODES:\n" + allCases.map { "  \($0.rawValue)  \($0.meaning)" }.joined(separator: "\n")
    }

    /// The exit code for an HTTP error status.
    public static func forHTTP(_ status: Int) -> ExitStatus {
        switch status {
        case 400, 413, 415, 422: .invalidInput
        case 401, 403: .unauthorized
        case 404: .notFound
        case 409: .conflict
        default: .failure
        }
    }
}

/// An error the CLI reports as one sentence on standard error, then exits with `status`.
public struct CLIError: Error, CustomStringConvertible, Sendable {
    public var status: ExitStatus
    public var message: String
    /// The gateway's X-Request-ID, to quote to whoever runs the platform.
    public var requestID: String?
    /// The problem's `type` slug (`name-taken`, `store-limit`), for callers that branch on it.
    public var problemType: String?

    public init(_ status: ExitStatus, _ message: String, requestID: String? = nil, problemType: String? = nil) {
        self.status = status
        self.message = message
        self.requestID = requestID
        self.problemType = problemType
    }

    public var description: String {
        var text = message
        if let requestID { text += " (request ID \(requestID))" }
        return text
    }
}

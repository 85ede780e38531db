import Foundation
import Hummingbird

/// An error the API answers with an RFC 9457 `application/problem+json` body. Every refusal goes
/// through this type, so clients get one shape: a stable `type`, a readable `detail` and, for
/// validation errors, per-field `errors`.
public struct Problem: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    /// A short stable slug; the `type` URI is `https://storefleet.dev/problems/<slug>`.
    public var slug: String
    public var title: String
    public var detail: String
    public var errors: [FieldError]
    /// Extra response headers (`Retry-After` for 429).
    public var headers: [String: String]

    public struct FieldError: Sendable, Equatable, Codable {
        public var field: String
        public var message: String
        public init(_ field: String, _ message: String) {
            self.field = field
            self.message = message
        }
    }

    public init(_ status: HTTPResponse.Status, _ slug: String, _ title: String, detail: String, errors: [FieldError] = [], headers: [String: String] = [:]) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers
    }

    static let typeBase = "https://storefleet.dev/problems/"

    struct Body: Codable {
        var type: String
        var title: String
        var status: Int
        var detail: String
        var instance: String?
        var requestId: String?
        var errors: [FieldError]?
    }

    func response(instance: String?, requestID: String?) -> Response {
        let body = Body(
            type: Self.typeBase + slug, title: title, status: Int(status.code), detail: detail, instance: instance,
            requestId: requestID, errors: errors.isEmpty ? nil : errors
        )
        var response = Response(status: status, headers: [.contentType: "application/problem+json"], body: .init(byteBuffer: ByteBuffer(bytes: JSONCoding.encode(body))))
        for (name, value) in headers {
            if let field = HTTPFields.Element.Name(name) { response.headers[field] = value }
        }
        return response
    }

    // MARK: - The problems the API documents

    public static func unauthorized(_ detail: String = "a valid bearer token is required") -> Problem {
        Problem(.unauthorized, "unauthorized", "Unauthorized", detail: detail, headers: ["WWW-Authenticate": "Bearer"])
    }
    public static func forbidden(_ detail: String) -> Problem { Problem(.forbidden, "forbidden", "Forbidden", detail: detail) }
    public static func notFound(_ what: String) -> Problem { Problem(.notFound, "not-found", "Not Found", detail: "\(what) does not exist") }
    public static func validation(_ errors: [FieldError]) -> Problem {
        Problem(.unprocessableContent, "validation", "Invalid request", detail: errors.map { "\($0.field): \($0.message)" }.joined(separator: "; "), errors: errors)
    }
    public static func malformed(_ detail: String) -> Problem { Problem(.badRequest, "malformed", "Malformed request", detail: detail) }
    public static func conflict(_ slug: String, _ detail: String) -> Problem { Problem(.conflict, slug, "Conflict", detail: detail) }
}

/// The gateway's JSON: ISO 8601 dates with fractions, sorted keys (stable bodies make idempotent
/// replays byte-identical), snake_case field names.
enum JSONCoding {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.string(date))
        }
        return encoder
    }()

    static func encode<T: Encodable>(_ value: T) -> Data {
        // Our own types always encode; a failure here is a programming error.
        (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, location: String? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let location { headers[.location] = location }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: encode(value))))
    }
}

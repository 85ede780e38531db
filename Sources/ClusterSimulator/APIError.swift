import KubeClient

/// A Kubernetes API error, rendered as a `Status` object with reason and code, as a real API server does.
public struct APIError: Error, Sendable {
    public let code: Int
    public let reason: String
    public let message: String
    public let details: JSON?
    public var retryAfter: Int?

    public static func notFound(_ type: ResourceType, _ name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(type.plural)\(type.group.isEmpty ? "" : ".\(type.group)") \"\(name)\" not found",
                 details: ["name": .string(name), "kind": .string(type.plural)])
    }

    public static func alreadyExists(_ type: ResourceType, _ name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(type.plural) \"\(name)\" already exists",
                 details: ["name": .string(name), "kind": .string(type.plural)])
    }

    public static func conflict(_ type: ResourceType, _ name: String) -> APIError {
        APIError(code: 409, reason: "Conflict",
                 message: "Operation cannot be fulfilled on \(type.plural) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
                 details: ["name": .string(name), "kind": .string(type.plural)])
    }

    public static func invalid(_ type: ResourceType?, _ name: String, _ message: String) -> APIError {
        APIError(code: 422, reason: "Invalid", message: "\(type?.kind ?? "object") \"\(name)\" is invalid: \(message)",
                 details: ["name": .string(name), "kind": .string(type?.plural ?? "")])
    }

    public static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message, details: nil)
    }

    public static func forbidden(_ message: String) -> APIError {
        APIError(code: 403, reason: "Forbidden", message: message, details: nil)
    }

    public static let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized", details: nil)

    public static func methodNotAllowed(_ message: String) -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: message, details: nil)
    }

    public static func unsupportedMediaType(_ type: String) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got \(type))", details: nil)
    }

    public init(code: Int, reason: String, message: String, details: JSON?, retryAfter: Int? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retryAfter = retryAfter
    }

    public var status: JSON {
        var status: JSON = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .number(Double(code)),
        ]
        if var details {
            if let retryAfter { details["retryAfterSeconds"] = .number(Double(retryAfter)) }
            status["details"] = details
        } else if let retryAfter {
            status["details"] = ["retryAfterSeconds": .number(Double(retryAfter))]
        }
        return status
    }
}

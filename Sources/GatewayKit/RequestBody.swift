import Foundation
import Hummingbird
import KubeClient

/// Reads and checks a JSON request body before anything is written: the content type, the size limit,
/// well-formed JSON, an object with only known fields of the right types. `JSONDecoder` ignores
/// unknown keys and JSONSerialization reads `true` as the number 1, so the body is parsed with the
/// project's own parser, which keeps booleans apart and refuses a key given twice.
struct JSONBody: Sendable {
    static let maxBytes = 16 * 1024

    /// The raw bytes (hashed for idempotency) and the parsed object.
    let bytes: [UInt8]
    let object: [String: JSONValue]

    static func read(_ request: Request, allowEmpty: Bool = false) async throws -> JSONBody {
        let tooLarge = Problem(.contentTooLarge, "too-large", "Body too large", detail: "request bodies are limited to \(maxBytes) bytes")
        // A declared length over the limit is refused before reading anything; otherwise the stream is
        // read here so a body without a length is refused as soon as it passes the limit.
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBytes { throw tooLarge }
        var bytes: [UInt8] = []
        for try await chunk in request.body {
            guard bytes.count + chunk.readableBytes <= maxBytes else { throw tooLarge }
            bytes += chunk.readableBytesView
        }
        if bytes.isEmpty && allowEmpty { return JSONBody(bytes: [], object: [:]) }
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/json" else {
            throw Problem(.unsupportedMediaType, "unsupported-media-type", "Unsupported media type", detail: "send the body as application/json")
        }
        let parsed: JSON
        do {
            parsed = try JSON(parsing: Data(bytes), uniqueKeys: true)
        } catch let error as JSON.ParseError {
            throw Problem.malformed("the body is not valid JSON (\(error.reason) at byte \(error.offset))")
        } catch {
            throw Problem.malformed("the body is not valid JSON")
        }
        guard case .object(let object) = parsed else { throw Problem.malformed("the body must be a JSON object") }
        return JSONBody(bytes: bytes, object: object.mapValues { Self.kind($0) })
    }

    private static func kind(_ value: JSON) -> JSONValue {
        switch value {
        case .string(let string): return .string(string)
        case .number(let number): return .number(number)
        case .bool(let flag): return .bool(flag)
        case .null: return .null
        case .array(let items):
            let strings = items.compactMap(\.string)
            return strings.count == items.count ? .strings(strings) : .other
        case .object: return .other  // only its kind matters for refusals
        }
    }

    /// Refuses fields other than `allowed`.
    func onlyFields(_ allowed: Set<String>) throws {
        let unknown = object.keys.filter { !allowed.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw Problem.validation(unknown.map { .init($0, "unknown field") })
        }
    }

    func string(_ field: String, errors: inout [Problem.FieldError], required: Bool = true) -> String? {
        switch object[field] {
        case nil, .null?:
            if required { errors.append(.init(field, "is required")) }
            return nil
        case .string(let string)?:
            return string
        default:
            errors.append(.init(field, "must be a string"))
            return nil
        }
    }

    /// A field that may be absent, null (`given` with no value) or an array of strings.
    func stringArray(_ field: String, errors: inout [Problem.FieldError]) -> (given: Bool, value: [String]?) {
        switch object[field] {
        case nil: return (false, nil)
        case .null?: return (true, nil)
        case .strings(let strings)?: return (true, strings)
        default:
            errors.append(.init(field, "must be an array of strings or null"))
            return (false, nil)
        }
    }

    func integer(_ field: String, errors: inout [Problem.FieldError]) -> Int? {
        switch object[field] {
        case nil, .null?:
            return nil
        case .number(let number)? where number == number.rounded() && abs(number) < 1e9:
            return Int(number)
        default:
            errors.append(.init(field, "must be an integer"))
            return nil
        }
    }
}

enum JSONValue: Sendable {
    case string(String)
    /// An array whose every element is a string.
    case strings([String])
    case number(Double)
    case bool(Bool)
    case null
    case other
}

import Foundation
import KubeClient
import ServiceRuntime

/// Field validation as the API server does it, from the Kubernetes OpenAPI schemas (the `_definitions.json`
/// that `kubernetes-validate` ships for each version; `--schemas FILE`). A field the schema does not
/// declare is:
///  * under `fieldValidation=Strict`, refused: a server-side apply with `500` and `failed to create
///    typed patch object (ns/name; apps/v1, Kind=Deployment): .spec.bogus: field not declared in
///    schema` (helm 4 applies with Strict), a create, update or patch with `400` and `strict decoding
///    error: unknown field "spec.bogus"`;
///  * under `Warn`, the default, dropped with a `Warning` header (`unknown field "spec.bogus"`);
///  * under `Ignore`, dropped.
/// Server-side apply also refuses two items with the same key in a list keyed by `name` (or another
/// `x-kubernetes-list-map-keys`), as `duplicate entries for key [name="X"]`, whatever the directive.
struct FieldSchemas: Sendable {
    let definitions: [String: JSON]
    /// "group/version/Kind" to the name of its definition.
    let byKind: [String: String]

    private static let loaded = LockedState<[String: FieldSchemas]>([:])

    /// The schemas in `file`, read once per process (test suites start many simulators).
    static func load(_ file: URL) throws -> FieldSchemas {
        if let cached = loaded.withLock({ $0[file.path] }) { return cached }
        let schemas = try FieldSchemas(file: file)
        loaded.withLock { $0[file.path] = schemas }
        return schemas
    }

    init(file: URL) throws {
        let document = try JSON(parsing: Data(contentsOf: file))
        guard let definitions = (document["$defs"] ?? document["definitions"])?.objectValue else {
            throw APIError(code: 500, reason: "InternalError", message: "\(file.path) holds no $defs: not a Kubernetes schema file", details: nil)
        }
        var byKind: [String: String] = [:]
        for (name, definition) in definitions {
            for gvk in definition["x-kubernetes-group-version-kind"]?.arrayValue ?? [] {
                let key = "\(gvk["group"]?.string ?? "")/\(gvk["version"]?.string ?? "")/\(gvk["kind"]?.string ?? "")"
                byKind[key] = name
            }
        }
        self.definitions = definitions
        self.byKind = byKind
    }

    /// What a write of `object` as `type` finds: the object with undeclared fields removed, their paths
    /// (`.spec.bogus` for apply, `spec.bogus` otherwise) and, for apply, duplicate list-map keys.
    struct Findings {
        var object: JSON
        var unknown: [String] = []
        var duplicates: [String] = []
    }

    func check(_ object: JSON, as type: ResourceType, apply: Bool) -> Findings {
        guard let root = byKind["\(type.group)/\(type.version)/\(type.kind)"].flatMap({ definitions[$0] }) else { return Findings(object: object) }
        var findings = Findings(object: object)
        findings.object = walk(object, schema: root, path: "", apply: apply, into: &findings)
        return findings
    }

    private func resolve(_ schema: JSON) -> JSON {
        var schema = schema
        var hops = 0
        while let reference = schema["$ref"]?.string, hops < 32, let name = reference.components(separatedBy: "/").last, let target = definitions[name] {
            schema = target
            hops += 1
        }
        return schema
    }

    private func walk(_ value: JSON, schema unresolved: JSON, path: String, apply: Bool, into findings: inout Findings) -> JSON {
        let schema = resolve(unresolved)
        func child(_ key: String) -> String { apply || !path.isEmpty ? "\(path).\(key)" : key }
        switch value {
        case .object(let fields):
            let properties = schema["properties"]?.objectValue
            let additional = schema["additionalProperties"]
            let additionalSchema: JSON? = additional?.objectValue != nil ? additional : nil
            // A schema with neither (RawExtension, a preserved free-form map) takes anything.
            guard properties != nil || additionalSchema != nil else { return value }
            var kept: [String: JSON] = [:]
            for (key, field) in fields {
                if let declared = properties?[key] ?? additionalSchema {
                    kept[key] = walk(field, schema: declared, path: child(key), apply: apply, into: &findings)
                } else {
                    findings.unknown.append(child(key))
                }
            }
            return .object(kept)
        case .array(let items):
            guard let itemSchema = schema["items"] else { return value }
            let mapKeys = (schema["x-kubernetes-list-map-keys"]?.arrayValue ?? []).compactMap(\.string)
            var seen: Set<String> = []
            var kept: [JSON] = []
            for (index, item) in items.enumerated() {
                var element = "\(path)[\(index)]"
                if apply, !mapKeys.isEmpty {
                    let key = mapKeys.map { "\($0)=\(item[$0].map(Self.keyText) ?? "null")" }.joined(separator: ",")
                    element = "\(path)[\(key)]"
                    if !seen.insert(key).inserted { findings.duplicates.append("\(path): duplicate entries for key [\(key)]") }
                }
                kept.append(walk(item, schema: itemSchema, path: element, apply: apply, into: &findings))
            }
            return .array(kept)
        default:
            return value
        }
    }

    private static func keyText(_ value: JSON) -> String {
        switch value {
        case .string(let text): "\"\(text)\""
        case .number(let number): number == number.rounded() ? String(Int(number)) : String(number)
        default: String(decoding: value.serialized(), as: UTF8.self)
        }
    }
}

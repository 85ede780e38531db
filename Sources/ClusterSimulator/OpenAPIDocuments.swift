import KubeClient

/// Just enough OpenAPI v3 for kubectl: it downloads these documents before `apply` to learn whether the
/// server validates fields itself (the `fieldValidation` parameter on PATCH). The simulator says yes,
/// so kubectl needs no schemas; it does not describe object schemas.
enum OpenAPIDocuments {
    static func root() -> JSON {
        var paths: [String: JSON] = [:]
        for path in Set(ResourceCatalog.types.map { String($0.groupVersionPath.dropFirst()) }) {
            paths[path] = ["serverRelativeURL": .string("/openapi/v3/\(path)?hash=kube-sim")]
        }
        return ["paths": .object(paths)]
    }

    static func groupVersion(_ path: String) -> JSON? {
        let types = ResourceCatalog.types.filter { String($0.groupVersionPath.dropFirst()) == path }
        guard !types.isEmpty else { return nil }
        var paths: [String: JSON] = [:]
        for type in types {
            let objectPath = type.namespaced
                ? "\(type.groupVersionPath)/namespaces/{namespace}/\(type.plural)/{name}"
                : "\(type.groupVersionPath)/\(type.plural)/{name}"
            paths[objectPath] = [
                "patch": [
                    "x-kubernetes-group-version-kind": ["group": .string(type.group), "version": .string(type.version), "kind": .string(type.kind)],
                    "x-kubernetes-action": "patch",
                    "parameters": [
                        ["name": "fieldValidation", "in": "query", "schema": ["type": "string"]],
                        ["name": "fieldManager", "in": "query", "schema": ["type": "string"]],
                    ],
                    "responses": ["200": ["description": "OK"]],
                ],
            ]
        }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes (kube-sim)", "version": "v1.35.0"], "paths": .object(paths), "components": ["schemas": [:]]]
    }
}

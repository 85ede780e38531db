import Foundation
import KubeClient
import ServiceRuntime

/// The cluster's API as helm 4 uses it: server-side apply under the field manager "helm", REST mapping
/// from discovery, and retries only where client-go retries (a 429 or 5xx that carries Retry-After,
/// at most 10 times). Helm does not retry other failures, so neither does its stand-in: a fault the
/// simulator injects into helm's calls fails the helm operation, and the worker must cope.
final class Cluster: Sendable {
    static let userAgent = "helm/v4.1.4 (helm-sim)"
    private let client: KubeClient
    private let mappings = LockedState<[String: [String: (plural: String, namespaced: Bool)]]>([:])

    init(kubeconfig: String?, context: String?) throws(HelmFailure) {
        let configuration: KubeConfiguration
        do {
            configuration = try kubeconfig.map { path throws in try KubeConfiguration.kubeconfig(at: path, context: context) }
                ?? KubeConfiguration.load(context: context)
        } catch {
            throw HelmFailure("Kubernetes cluster unreachable: \(error)")
        }
        var settings = KubeClientSettings()
        settings.userAgent = Self.userAgent
        settings.fieldManager = "helm"
        // As helm 4 applies: an undeclared field fails the release instead of being dropped.
        settings.fieldValidation = "Strict"
        settings.retries = 0
        settings.connections = 1
        client = KubeClient(configuration: configuration, settings: settings)
    }

    private func withRetryAfter<T>(_ call: () async throws(KubeError) -> T) async throws(KubeError) -> T {
        var waits = 0
        while true {
            do {
                return try await call()
            } catch where (error.code == 429 || error.code >= 500) && error.retryAfter != nil && waits < 10 {
                waits += 1
                try? await Task.sleep(for: .seconds(min(error.retryAfter ?? 1, 30)))
            }
        }
    }

    func get(_ path: String, query: [(String, String)] = []) async throws(KubeError) -> JSON {
        try await withRetryAfter { () async throws(KubeError) -> JSON in try await client.get(path, query: query) }
    }

    func apply(_ object: JSON, namespace: String) async throws(KubeError) {
        let path = try await path(of: object, namespace: namespace)
        var object = object
        if path.contains("/namespaces/"), object.at("metadata", "namespace")?.string == nil {
            object.set(["metadata", "namespace"], to: .string(namespace))
        }
        _ = try await withRetryAfter { () async throws(KubeError) -> JSON in try await client.apply(path, object) }
    }

    /// A release record as helm's Secrets storage driver writes one: create for a new revision, update
    /// (PUT, at the current resourceVersion) for a changed one; never a patch, so the RBAC helm needs on
    /// Secrets is create/update, as for the real helm.
    func record(_ object: JSON, namespace: String) async throws(KubeError) {
        let path = try await path(of: object, namespace: namespace)
        let collection = String(path[..<path.lastIndex(of: "/")!])
        var object = object
        object.set(["metadata", "namespace"], to: .string(namespace))
        do {
            _ = try await withRetryAfter { () async throws(KubeError) -> JSON in try await client.create(collection, object) }
        } catch where error.reason == .alreadyExists {
            let current = try await get(path)
            object.set(["metadata", "resourceVersion"], to: current.at("metadata", "resourceVersion") ?? .null)
            let body = Array(object.serialized())
            _ = try await withRetryAfter { () async throws(KubeError) -> KubeClient.Response in try await client.send("PUT", path, body: body) }
        }
    }

    /// False when the object was already gone.
    @discardableResult
    func delete(_ object: JSON, namespace: String) async throws(KubeError) -> Bool {
        let path = try await path(of: object, namespace: namespace)
        return try await withRetryAfter { () async throws(KubeError) -> Bool in try await client.delete(path) }
    }

    /// The object's URL: its kind's plural and scope come from discovery, once per group version.
    func path(of object: JSON, namespace: String) async throws(KubeError) -> String {
        let apiVersion = object["apiVersion"]?.string ?? ""
        let kind = object["kind"]?.string ?? ""
        let name = object.at("metadata", "name")?.string ?? ""
        guard !apiVersion.isEmpty, !kind.isEmpty, !name.isEmpty else {
            throw KubeError(reason: .invalid, code: 0, message: "unable to build kubernetes objects from release manifest: an object lacks apiVersion, kind or metadata.name", request: "")
        }
        let base = (apiVersion.contains("/") ? "/apis/" : "/api/") + apiVersion
        var known = mappings.withLock { $0[apiVersion] }
        if known == nil {
            var found: [String: (plural: String, namespaced: Bool)] = [:]
            do {
                let listing = try await get(base)
                for resource in listing["resources"]?.arrayValue ?? [] {
                    guard let plural = resource["name"]?.string, !plural.contains("/"), let kind = resource["kind"]?.string else { continue }
                    found[kind] = (plural, resource["namespaced"] == .bool(true))
                }
            } catch where error.reason == .notFound {}
            mappings.withLock { $0[apiVersion] = found }
            known = found
        }
        guard let mapping = known?[kind] else {
            throw KubeError(reason: .notFound, code: 0, message: "resource mapping not found for name: \"\(name)\" from \"\": no matches for kind \"\(kind)\" in version \"\(apiVersion)\"\nensure CRDs are installed first", request: "")
        }
        var path = base
        if mapping.namespaced {
            path += "/namespaces/" + (object.at("metadata", "namespace")?.string ?? namespace)
        }
        return path + "/" + mapping.plural + "/" + name
    }
}

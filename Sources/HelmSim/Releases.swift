import Foundation
import KubeClient

/// A release revision as helm 3+ keeps it: a Secret `sh.helm.release.v1.<name>.v<revision>` of type
/// `helm.sh/release.v1` in the release's namespace, labelled owner=helm, name, status and version.
/// (helm gzips the record; the stand-in stores plain JSON, base64-encoded.)
struct Revision {
    var name: String
    var namespace: String
    var version: Int
    var chart: String
    var manifest: String
    var status: String
    var firstDeployed: String
    var lastDeployed: String
    var description: String

    init(name: String, namespace: String, version: Int, chart: String, manifest: String, status: String,
         firstDeployed: String, lastDeployed: String, description: String) {
        (self.name, self.namespace, self.version, self.chart, self.manifest) = (name, namespace, version, chart, manifest)
        (self.status, self.firstDeployed, self.lastDeployed, self.description) = (status, firstDeployed, lastDeployed, description)
    }

    init?(record: JSON) {
        guard let name = record["name"]?.string, let namespace = record["namespace"]?.string, let version = record["version"]?.int else { return nil }
        self.init(
            name: name, namespace: namespace, version: version, chart: record["chart"]?.string ?? "",
            manifest: record["manifest"]?.string ?? "", status: record.at("info", "status")?.string ?? "unknown",
            firstDeployed: record.at("info", "first_deployed")?.string ?? "", lastDeployed: record.at("info", "last_deployed")?.string ?? "",
            description: record.at("info", "description")?.string ?? ""
        )
    }

    var info: JSON {
        ["status": .string(status), "first_deployed": .string(firstDeployed), "last_deployed": .string(lastDeployed), "description": .string(description)]
    }

    var record: JSON {
        ["name": .string(name), "namespace": .string(namespace), "version": .number(Double(version)), "chart": .string(chart),
         "manifest": .string(manifest), "info": info]
    }

    var secretName: String { "sh.helm.release.v1.\(name).v\(version)" }

    var isPending: Bool { status.hasPrefix("pending-") }

    var secret: JSON {
        [
            "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": [
                "name": .string(secretName), "namespace": .string(namespace),
                "labels": ["owner": "helm", "name": .string(name), "status": .string(status), "version": .string(String(version))],
            ],
            "data": ["release": .string(Data(record.serialized()).base64EncodedString())],
        ]
    }

    static func now() -> String {
        ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
    }
}

/// The release records in the cluster.
struct ReleaseStore {
    let cluster: Cluster

    /// Every revision of one release (or of all releases, in one namespace or all), oldest first.
    func history(name: String? = nil, namespace: String?) async throws(HelmFailure) -> [Revision] {
        let selector = "owner=helm" + (name.map { ",name=\($0)" } ?? "")
        let path = namespace.map { "/api/v1/namespaces/\($0)/secrets" } ?? "/api/v1/secrets"
        let listing: JSON
        do {
            listing = try await cluster.get(path, query: [("labelSelector", selector)])
        } catch {
            throw HelmFailure(error.code == 0 ? "Kubernetes cluster unreachable: \(error.message)" : "query: failed to query with labels: \(error.message)")
        }
        return (listing["items"]?.arrayValue ?? [])
            .compactMap { item in
                item.at("data", "release")?.string
                    .flatMap { Data(base64Encoded: $0) }
                    .flatMap { try? JSON(parsing: $0) }
                    .flatMap(Revision.init(record:))
            }
            .sorted { ($0.namespace, $0.name, $0.version) < ($1.namespace, $1.name, $1.version) }
    }

    func save(_ revision: Revision) async throws(HelmFailure) {
        do {
            try await cluster.record(revision.secret, namespace: revision.namespace)
        } catch {
            throw HelmFailure("cannot record release \(revision.name): \(error.message)")
        }
    }

    func remove(_ revision: Revision) async throws(HelmFailure) {
        do {
            try await cluster.delete(revision.secret, namespace: revision.namespace)
        } catch {
            throw HelmFailure("uninstall: failed to delete release: \(revision.name): \(error.message)")
        }
    }
}

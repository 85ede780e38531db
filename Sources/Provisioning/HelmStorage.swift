import Foundation
import Jobs
import KubeClient

/// Where a release stands, read from helm's own storage instead of by running `helm status`: helm 3
/// and 4 keep each revision as a Secret `sh.helm.release.v1.<release>.v<N>` in the release's namespace,
/// labelled owner=helm, name, status and version (the default "secret" driver; the worker never sets
/// HELM_DRIVER). One list call answers what a helm process would, without starting one: a whole Go
/// binary's start-up and a fresh connection per release, paid by every create. Only the labels are
/// read; the gzipped release payload, which holds the values, is never decoded.
struct HelmStorage: Sendable {
    let kube: KubeClient

    struct ReleaseStatus: Sendable, Equatable {
        let status: String
        let revision: Int
        /// When helm wrote the revision (its Secret's creationTimestamp, by the API server's clock): a
        /// pending revision is written as helm begins and replaced when it ends.
        var created: Date? = nil

        init(status: String, revision: Int, created: Date? = nil) {
            self.status = status
            self.revision = revision
            self.created = created
        }
    }

    /// The newest revision's status, or nil when the release has never been installed here.
    func latest(release: String, namespace: String) async throws -> ReleaseStatus? {
        let listing = try await kube.get(
            Paths.core(namespace, "secrets"), query: [("labelSelector", "owner=helm,name=\(release)")])
        var newest: ReleaseStatus?
        for item in listing["items"]?.arrayValue ?? [] {
            guard let labels = item.at("metadata", "labels"),
                  let version = labels["version"]?.string.flatMap({ Int($0) }), version > 0
            else { continue }
            if version > newest?.revision ?? 0 {
                let created = item.at("metadata", "creationTimestamp")?.string.flatMap { try? Date($0, strategy: .iso8601) }
                newest = ReleaseStatus(status: labels["status"]?.string ?? "unknown", revision: version, created: created)
            }
        }
        return newest
    }
}

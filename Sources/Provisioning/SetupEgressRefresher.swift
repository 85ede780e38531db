import Foundation
import KubeClient
import Logging

/// Keeps every store's setup egress policy pointing at the API server's current addresses: when a
/// control-plane node is replaced or the cluster moves its API server, the `kubernetes` EndpointSlice
/// changes, and a setup Job (or a store's next update) would otherwise be cut off from the API server.
///
/// Each pass reads the addresses (two GETs) and, when they changed since the last pass or every
/// `fullCheckEvery` passes, lists the store namespaces (one LIST) and re-applies the policy only in
/// those whose `storefleet.io/setup-egress` annotation names other addresses. Every worker runs one;
/// the writes are idempotent, so two workers doing the same namespace do no harm.
public struct SetupEgressRefresher: Sendable {
    let provisioner: Provisioner
    let interval: Duration
    let fullCheckEvery: Int
    let logger: Logger

    public init(provisioner: Provisioner, interval: Duration = .seconds(30), fullCheckEvery: Int = 10, logger: Logger) {
        self.provisioner = provisioner
        self.interval = interval
        self.fullCheckEvery = fullCheckEvery
        self.logger = logger
    }

    /// Passes until cancelled; a failed pass is logged and the next one tries again.
    public func run() async {
        var last: APIServerAddresses?
        var count = 0
        while !Task.isCancelled {
            do {
                let (addresses, updated) = try await pass(since: count % fullCheckEvery == 0 ? nil : last)
                if updated > 0 || (last != nil && addresses != last) {
                    logger.notice("setup egress follows the API server", metadata: [
                        "addresses": "\(addresses.fingerprint)", "namespaces_updated": "\(updated)",
                    ])
                }
                last = addresses
                count += 1
            } catch {
                logger.warning("cannot refresh the setup egress policies; will retry", metadata: ["error": "\(error)"])
            }
            // Jittered, so that several workers do not pass in step.
            let jitter = Double.random(in: 0.8...1.2)
            try? await Task.sleep(for: interval * jitter)
        }
    }

    /// One pass: reads the addresses and, unless they equal `since`, brings the store namespaces up to
    /// date. Returns the addresses and how many namespaces it changed.
    public func pass(since: APIServerAddresses? = nil) async throws(KubeError) -> (APIServerAddresses, updated: Int) {
        let addresses = try await provisioner.apiServerCache.refresh(provisioner.kube)
        guard addresses != since else { return (addresses, 0) }
        return (addresses, try await reconcile(addresses))
    }

    /// Brings every store namespace's policy to `addresses`; returns how many it changed.
    @discardableResult
    public func reconcile(_ addresses: APIServerAddresses) async throws(KubeError) -> Int {
        let list = try await provisioner.kube.get("/api/v1/namespaces", query: [("labelSelector", "app.kubernetes.io/managed-by=storefleet")])
        guard case .array(let namespaces)? = list["items"] else { return 0 }
        var updated = 0
        for namespace in namespaces {
            guard let name = namespace.at("metadata", "name")?.string, namespace.at("metadata", "deletionTimestamp") == nil,
                  namespace.at("metadata", "annotations", Guardrails.setupEgressAnnotation)?.string != addresses.fingerprint else { continue }
            do {
                try await provisioner.kube.apply(Guardrails.setupEgressPath(name), Guardrails.setupEgress(namespace: name, addresses))
                try await provisioner.markSetupEgress(name, addresses)
                updated += 1
            } catch {
                // A namespace being created (its RoleBinding not there yet: its guardrails step will
                // write the policy) or deleted meanwhile; the others still get theirs.
                if error.reason == .notFound || error.reason == .forbidden { continue }
                logger.warning("cannot update a store's setup egress policy", metadata: ["namespace": "\(name)", "error": "\(error)"])
            }
        }
        return updated
    }
}

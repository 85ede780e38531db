import Jobs
import KubeClient

extension Provisioner {
    /// Creates `store-<name>` labelled with the store, tenant and engine, and Pod Security Admission
    /// labels. A namespace that belongs to another store is never taken over.
    func namespaceStep() -> StepDefinition {
        StepDefinition("namespace", timeout: 30, retry: RetryPolicy(maxAttempts: 8, initialDelay: 1, maxDelay: 20)) { context in
            let store = try await self.store(context)
            if let existing = try? await kube.get(Paths.namespace(store.namespace)) {
                let owner = existing.at("metadata", "labels", "storefleet.io/store-id")?.string
                if owner != store.id.uuidString.lowercased() {
                    throw StepFailure.permanent("namespace \(store.namespace) already exists and belongs to \(owner.map { "store \($0)" } ?? "something else"); delete it or choose another store name")
                }
                if existing.at("status", "phase")?.string == "Terminating" {
                    throw StepFailure.retryable("namespace \(store.namespace) is still terminating from an earlier run; waiting for it to go", after: 5)
                }
            }
            // The official WordPress/MariaDB/Postgres images need `baseline`; warn and audit at `restricted`
            // so anything that drifts further shows up.
            let namespace: JSON = [
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": [
                    "name": .string(store.namespace),
                    "labels": [
                        "app.kubernetes.io/managed-by": "storefleet",
                        "storefleet.io/store-id": .string(store.id.uuidString.lowercased()),
                        "storefleet.io/tenant-id": .string(store.tenantID.uuidString.lowercased()),
                        "storefleet.io/engine": .string(store.engine),
                        "pod-security.kubernetes.io/enforce": "baseline",
                        "pod-security.kubernetes.io/warn": "restricted",
                        "pod-security.kubernetes.io/audit": "restricted",
                    ],
                ],
            ]
            try await kube.apply(Paths.namespace(store.namespace), namespace)
        }
    }
}

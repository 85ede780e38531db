import Jobs
import KubeClient

extension Provisioner {
    /// Deletes the store's namespace (and so everything left in it). A missing namespace is fine, one
    /// already terminating is fine (the API answers a second delete with 409 Conflict), and one that is
    /// not this store's is left alone.
    func deleteNamespaceStep() -> StepDefinition {
        StepDefinition("namespace", timeout: 30, retry: RetryPolicy(maxAttempts: 8, initialDelay: 1, maxDelay: 20)) { context in
            let store = try await self.store(context)
            guard let namespace = try await namespaceToClean(store, context, leftAlone: "left alone"),
                  namespace.at("metadata", "deletionTimestamp") == nil
            else { return }
            do {
                // Only the namespace just read: one deleted and made again by someone else since must
                // not go (409 below, and the step runs again and finds it foreign).
                try await kube.delete(Paths.namespace(store.namespace), uid: namespace.at("metadata", "uid")?.string)
            } catch let error as KubeError where error.reason == .conflict {
                if error.message.contains("Precondition failed") {
                    throw StepFailure.retryable("namespace \(store.namespace) changed while being deleted; looking again")
                }
                // "The system is ensuring all content is removed from this namespace": a delete whose
                // answer was lost, or another one, got there first. wait-gone waits for it.
            }
        }
    }
}

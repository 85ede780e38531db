import Jobs

extension Provisioner {
    /// Deletes the store's namespace (and so everything left in it). A missing namespace is fine, one
    /// already terminating is fine, and one that is not this store's is left alone.
    func deleteNamespaceStep() -> StepDefinition {
        StepDefinition("namespace", timeout: 30, retry: RetryPolicy(maxAttempts: 8, initialDelay: 1, maxDelay: 20)) { context in
            let store = try await self.store(context)
            guard let namespace = try await namespaceToClean(store, context, leftAlone: "left alone") else { return }
            // Made again by someone else since it was read: the next attempt finds it foreign.
            guard try await deleteNamespace(store, read: namespace) else {
                throw StepFailure.retryable("namespace \(store.namespace) changed while being deleted; looking again")
            }
        }
    }
}

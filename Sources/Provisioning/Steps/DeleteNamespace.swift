import Jobs

extension Provisioner {
    /// Deletes the store's namespace (and so everything left in it); a missing namespace is fine.
    func deleteNamespaceStep() -> StepDefinition {
        StepDefinition("namespace", timeout: 30, retry: RetryPolicy(maxAttempts: 8, initialDelay: 1, maxDelay: 20)) { context in
            let store = try await self.store(context)
            try await kube.delete(Paths.namespace(store.namespace))
        }
    }
}

import Jobs

extension Provisioner {
    /// helm uninstall; a release or namespace that is already gone is fine, and a namespace that is not
    /// this store's is left alone (its releases are someone else's).
    func uninstallStep() -> StepDefinition {
        StepDefinition("uninstall", timeout: settings.releaseTimeout, retry: RetryPolicy(maxAttempts: 5, initialDelay: 2, maxDelay: 30)) { context in
            let store = try await self.store(context)
            guard try await namespaceToClean(store, context, leftAlone: "nothing of it uninstalled") != nil else { return }
            let outcome = try await helm.run(["uninstall", store.release, "-n", store.namespace], timeout: settings.releaseTimeout)
            // An uninstall that purged the release but left some objects is done here: the namespace
            // step deletes whatever is left.
            guard outcome.succeeded || HelmRunner.releaseGone(outcome) else {
                throw StepFailure.retryable("helm uninstall failed: \(HelmRunner.message(outcome))", cause: "helm")
            }
        }
    }
}

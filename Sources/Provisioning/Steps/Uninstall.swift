import Jobs

extension Provisioner {
    /// helm uninstall; a release or namespace that is already gone is fine.
    func uninstallStep() -> StepDefinition {
        StepDefinition("uninstall", timeout: settings.releaseTimeout, retry: RetryPolicy(maxAttempts: 5, initialDelay: 2, maxDelay: 30)) { context in
            let store = try await self.store(context)
            let outcome = try await helm.run(["uninstall", store.release, "-n", store.namespace], timeout: settings.releaseTimeout)
            if !outcome.succeeded {
                let message = HelmRunner.message(outcome)
                guard message.contains("not found") else { throw StepFailure.retryable("helm uninstall failed: \(message)") }
            }
        }
    }
}

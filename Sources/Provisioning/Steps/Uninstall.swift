import Jobs

extension Provisioner {
    /// helm uninstall; a release or namespace that is already gone is fine, and a namespace that is not
    /// this store's is left alone (its releases are someone else's).
    func uninstallStep() -> StepDefinition {
        StepDefinition("uninstall", timeout: settings.releaseTimeout, retry: RetryPolicy(maxAttempts: 5, initialDelay: 2, maxDelay: 30)) { context in
            let store = try await self.store(context)
            switch try await namespaceOwnership(store) {
            case .absent:
                return
            case .foreign:
                await context.report("namespace \(store.namespace) does not belong to this store; nothing of it uninstalled")
                return
            case .ours:
                break
            }
            let outcome = try await helm.run(["uninstall", store.release, "-n", store.namespace], timeout: settings.releaseTimeout)
            if !outcome.succeeded {
                let message = HelmRunner.message(outcome)
                guard message.contains("not found") else { throw StepFailure.retryable("helm uninstall failed: \(message)") }
            }
        }
    }
}

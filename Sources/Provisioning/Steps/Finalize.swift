import Jobs

extension Provisioner {
    /// Records the store's URLs and marks it ready.
    func finalizeCreateStep() -> StepDefinition {
        StepDefinition("finalize", timeout: 30) { context in
            let store = try await self.store(context)
            let urls = settings.urls(for: store)
            try await postgres.query("""
                UPDATE stores SET status = 'ready', storefront_url = \(urls.storefront), admin_url = \(urls.admin),
                                  last_error = NULL, updated_at = now()
                WHERE id = \(store.id) AND status IN ('provisioning', 'failed')
                """)
        }
    }

    /// Marks the store deleted; its name is free again.
    func finalizeDeleteStep() -> StepDefinition {
        StepDefinition("finalize", timeout: 30) { context in
            let store = try await self.store(context)
            try await postgres.query("""
                UPDATE stores SET status = 'deleted', deleted_at = now(), updated_at = now() WHERE id = \(store.id) AND status <> 'deleted'
                """)
        }
    }
}

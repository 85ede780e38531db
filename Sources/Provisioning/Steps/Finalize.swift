import Jobs

extension Provisioner {
    /// Records the store's URLs and marks it ready, under the job's claim: a worker whose claim was
    /// reaped or superseded writes nothing (`context.fenced`).
    func finalizeCreateStep() -> StepDefinition {
        StepDefinition("finalize", timeout: 30) { context in
            let store = try await self.store(context)
            let urls = settings.urls(for: store)
            try await context.fenced { connection in
                _ = try await connection.query("""
                    UPDATE stores SET status = 'ready', storefront_url = \(urls.storefront), admin_url = \(urls.admin),
                                      last_error = NULL, updated_at = now()
                    WHERE id = \(store.id) AND status IN ('provisioning', 'failed')
                    """)
            }
        }
    }

    /// Marks the store deleted, under the job's claim; its name is free again.
    func finalizeDeleteStep() -> StepDefinition {
        StepDefinition("finalize", timeout: 30) { context in
            let store = try await self.store(context)
            try await context.fenced { connection in
                _ = try await connection.query("""
                    UPDATE stores SET status = 'deleted', deleted_at = now(), updated_at = now()
                    WHERE id = \(store.id) AND status <> 'deleted'
                    """)
            }
        }
    }
}

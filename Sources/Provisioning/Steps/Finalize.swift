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
                _ = try await connection.query("""
                    UPDATE store_revisions SET outcome = 'applied', finished_at = now()
                    WHERE store_id = \(store.id) AND revision = 1 AND outcome IN ('pending', 'failed')
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

extension Provisioner {
    /// Makes the revision the store's live spec and the store ready again, under the job's claim. Does
    /// nothing after a rollback (the job ended failed at `rollback` and never comes here).
    func finalizeUpdateStep() -> StepDefinition {
        StepDefinition("finalize", timeout: 30) { context in
            let (live, target, _) = try await updateTarget(context)
            try await context.fenced { connection in
                _ = try await connection.query("""
                    UPDATE store_revisions SET outcome = 'applied', finished_at = now()
                    WHERE store_id = \(live.id) AND revision = \(target.revision) AND outcome IN ('pending', 'failed')
                    """)
                _ = try await connection.query("""
                    UPDATE stores SET plan = \(target.spec.plan), chart_version = \(target.spec.chartVersion), app_version = \(target.spec.appVersion),
                                      revision = \(target.revision), status = 'ready', last_error = NULL, updated_at = now()
                    WHERE id = \(live.id) AND status IN ('updating', 'failed')
                    """)
            }
        }
    }
}

import Foundation
import Jobs
import Logging
import Platform
import Postgres
import Testing
import TestSupport

/// The platform's rows that retention prunes through the engine's maintenance pass.
@Suite("Platform retention against real Postgres")
struct PlatformRetentionTests {
    @Test("deleted stores go with their jobs, old audit events and long-revoked or expired tokens go; recent and live rows stay")
    func platformRowsArePruned() async throws {
        try await withPlatformDatabase { pool in
            let tenant = UUID()
            try await pool.query("INSERT INTO tenants (id, name) VALUES (\(tenant), 'acme')")
            func store(_ status: String, updated: String) async throws -> UUID {
                let id = UUID()
                try await pool.query("""
                    INSERT INTO stores (id, tenant_id, name, engine, status, namespace, updated_at)
                    VALUES (\(id), \(tenant), \(TestEnvironment.uniqueName("s")), 'medusa', \(status), 'store-x', now() - \(updated)::interval)
                    """)
                return id
            }
            let live = try await store("ready", updated: "40 days")
            let gone = try await store("deleted", updated: "40 days")
            let recent = try await store("deleted", updated: "1 day")
            let busy = try await store("deleted", updated: "40 days")
            for (owner, status) in [(gone, "succeeded"), (gone, "failed"), (busy, "running")] {
                // Queued, then moved on, as the engine does: the counters' trigger fires on the change.
                let job = UUID()
                try await pool.query("INSERT INTO jobs (id, kind, status, steps, store_id, tenant_id) VALUES (\(job), 'store.delete', 'queued', '{a}', \(owner), \(tenant))")
                try await pool.query("UPDATE jobs SET status = \(status) WHERE id = \(job)")
            }
            try await pool.query("""
                INSERT INTO audit_events (tenant_id, action, target_type, at) VALUES
                    (\(tenant), 'old', 'store', now() - interval '400 days'), (\(tenant), 'recent', 'store', now() - interval '10 days')
                """)
            let revoked = UUID(), expired = UUID(), revokedRecently = UUID(), active = UUID()
            try await pool.query("""
                INSERT INTO api_tokens (id, tenant_id, prefix, token_hash, revoked_at, expires_at) VALUES
                    (\(revoked), \(tenant), 'sfk_', '\\x01', now() - interval '31 days', NULL),
                    (\(expired), \(tenant), 'sfk_', '\\x04', NULL, now() - interval '31 days'),
                    (\(revokedRecently), \(tenant), 'sfk_', '\\x02', now() - interval '1 day', NULL),
                    (\(active), \(tenant), 'sfk_', '\\x03', NULL, NULL)
                """)

            var settings = RetentionSettings()
            settings.batch = 1  // one row per statement: the engine's batching runs each rule to the end
            settings.rules = PlatformRetention().rules
            let pruned = try await JobStore(postgres: pool).prune(settings)
            #expect(pruned.description == "jobs=2 stores=1 audit_events=1 revoked_tokens=2")
            // The job counters followed the jobs that went with the store.
            let store = JobStore(postgres: pool)
            try await store.foldJobCounts()
            #expect(try await store.jobCounts() == ["running": 1])
            let stores = Set(try await pool.query("SELECT id FROM stores").rows.map { try $0.decode("id", as: UUID.self) })
            #expect(stores == [live, recent, busy], "a deleted store with a job still running stays")
            #expect(try await pool.query("SELECT count(*) AS n FROM jobs WHERE store_id = \(gone)").first?.decode("n", as: Int.self) == 0)
            #expect(try await pool.query("SELECT action FROM audit_events").rows.map { try $0.decode("action", as: String.self) } == ["recent"])
            let tokens = Set(try await pool.query("SELECT id FROM api_tokens").rows.map { try $0.decode("id", as: UUID.self) })
            #expect(tokens == [revokedRecently, active])
            #expect(try await JobStore(postgres: pool).prune(settings).isEmpty)
        }
    }
}

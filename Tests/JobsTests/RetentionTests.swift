import Foundation
import Jobs
import SyntheticJobs
import Postgres
import Testing
import TestSupport

/// Retention: what is pruned, what is kept, and job counters that agree with the table throughout.
@Suite("Retention and job counters against real Postgres")
struct RetentionTests {
    /// Jobs by status as a full count would say, platform-wide or for one tenant.
    func counted(_ h: EngineHarness, tenant: UUID? = nil) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try await h.postgres.query("""
            SELECT status, count(*) AS n FROM jobs WHERE \(tenant)::uuid IS NULL OR tenant_id = \(tenant)::uuid GROUP BY status
            """).rows {
            counts[try row.decode("status")] = try row.decode("n", as: Int.self)
        }
        return counts
    }

    @Test("job counters agree with a full count through claims, successes, failures, cancellations and folds, platform-wide and per tenant")
    func countersAgree() async throws {
        try await EngineHarness.with { h in
            let store = h.queue.store
            let storeID = try await h.createStore()
            let tenant: UUID = try await h.postgres.query("SELECT tenant_id FROM stores WHERE id = \(storeID)").first!.decode("tenant_id")
            var job = h.scripted(store: storeID)
            job.tenantID = tenant
            let tenantJob = try await h.queue.enqueue(job)
            var ids: [UUID] = []
            for index in 0..<12 {
                ids.append(try await h.queue.enqueue(h.scripted(index % 4 == 0 ? ["two": .init(permanent: true)] : [:])))
            }
            let waiting = try await store.enqueueForTest(h.scripted())
            #expect(try await store.jobCounts() == counted(h))
            try await store.foldJobCounts()
            #expect(try await store.jobCounts() == counted(h))

            // Cancelled before any worker runs (the sweeper would otherwise dispatch it).
            _ = try await h.queue.cancel(waiting)
            h.startWorker(concurrency: 3)
            _ = try await h.waitUntilFinished(ids + [tenantJob])
            await h.stopWorkers()
            #expect(try await store.jobCounts() == counted(h), "before folding: counters plus deltas")
            try await store.foldJobCounts()
            let counts = try await store.jobCounts()
            #expect(counts == (try await counted(h)))
            #expect(counts["succeeded"] == 10 && counts["failed"] == 3 && counts["cancelled"] == 1, "\(counts)")
            #expect(try await store.jobCounts(tenant: tenant) == counted(h, tenant: tenant))
            #expect(try await store.jobCounts(tenant: tenant) == ["succeeded": 1])
            let deltas = try await h.postgres.query("SELECT count(*) AS n FROM job_count_deltas").first!.decode("n", as: Int.self)
            #expect(deltas == 0, "folded")
            // TRUNCATE fires no DELETE trigger; the counters must not go on counting what is gone.
            try await h.postgres.query("TRUNCATE jobs CASCADE")
            #expect(try await store.jobCounts().isEmpty)
        }
    }

    @Test("pruning deletes what is past its age, in batches, and keeps a store's newest job, recent rows and anything unfinished")
    func pruning() async throws {
        try await EngineHarness.with { h in
            let store = h.queue.store
            // A live store with an old create and a newer (also old) job: the create goes, the newest stays.
            let live = try await h.createStore()
            let oldCreate = try await store.enqueueForTest(h.scripted(store: live))
            let newest = try await store.enqueueForTest(h.scripted(store: live))
            // A store deleted long ago, and one deleted yesterday.
            let gone = try await h.createStore(), recent = try await h.createStore()
            let goneJob = try await store.enqueueForTest(h.scripted(store: gone))
            // Store-less jobs: 7 old ones (more than a batch of 3), one recent, one old but still waiting.
            var old: [UUID] = []
            for _ in 0..<7 { old.append(try await store.enqueueForTest(h.scripted())) }
            let fresh = try await store.enqueueForTest(h.scripted())
            let unfinished = try await store.enqueueForTest(h.scripted())
            try await h.postgres.query("""
                UPDATE jobs SET status = 'succeeded', finished_at = now() - interval '40 days', created_at = now() - interval '41 days'
                WHERE id = ANY(\(PostgresTextArray(([oldCreate, goneJob] + old).map { $0.uuidString.lowercased() }))::uuid[])
                """)
            try await h.postgres.query("UPDATE jobs SET status = 'succeeded', finished_at = now() - interval '35 days', created_at = now() - interval '36 days' WHERE id = \(newest)")
            try await h.postgres.query("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = \(fresh)")
            try await h.postgres.query("UPDATE jobs SET created_at = now() - interval '50 days' WHERE id = \(unfinished)")
            try await h.postgres.query("UPDATE stores SET status = 'deleted', updated_at = now() - interval '40 days' WHERE id = \(gone)")
            try await h.postgres.query("UPDATE stores SET status = 'deleted', updated_at = now() - interval '1 day' WHERE id = \(recent)")
            let tenant: UUID = try await h.postgres.query("SELECT tenant_id FROM stores WHERE id = \(live)").first!.decode("tenant_id")
            try await h.postgres.query("""
                INSERT INTO audit_events (tenant_id, action, target_type, at) VALUES
                    (\(tenant), 'old', 'store', now() - interval '400 days'), (\(tenant), 'recent', 'store', now() - interval '10 days')
                """)
            let revoked = UUID(), revokedRecently = UUID(), active = UUID()
            try await h.postgres.query("""
                INSERT INTO api_tokens (id, tenant_id, prefix, token_hash, revoked_at) VALUES
                    (\(revoked), \(tenant), 'sfk_', '\\x01', now() - interval '31 days'),
                    (\(revokedRecently), \(tenant), 'sfk_', '\\x02', now() - interval '1 day'),
                    (\(active), \(tenant), 'sfk_', '\\x03', NULL)
                """)

            var settings = RetentionSettings()
            settings.batch = 3
            let pruned = try await store.prune(settings)
            let figures: [Int] = [pruned.jobs, pruned.stores, pruned.auditEvents, pruned.revokedTokens]
            #expect(figures == [9, 1, 1, 1], "\(pruned)")
            let left = Set(try await h.postgres.query("SELECT id FROM jobs").rows.map { try $0.decode("id", as: UUID.self) })
            #expect(left == [newest, fresh, unfinished])
            #expect(try await h.postgres.query("SELECT count(*) AS n FROM job_transitions WHERE job_id = \(oldCreate)").first!.decode("n", as: Int.self) == 0,
                    "a pruned job's history goes with it")
            let stores = Set(try await h.postgres.query("SELECT id FROM stores").rows.map { try $0.decode("id", as: UUID.self) })
            #expect(stores == [live, recent])
            #expect(try await h.postgres.query("SELECT action FROM audit_events").rows.map { try $0.decode("action", as: String.self) } == ["recent"])
            let tokens = Set(try await h.postgres.query("SELECT id FROM api_tokens").rows.map { try $0.decode("id", as: UUID.self) })
            #expect(tokens == [revokedRecently, active])
            // The counters followed the deletes.
            #expect(try await store.jobCounts() == counted(h))
            // Nothing left to prune: a second pass deletes nothing.
            #expect(try await store.prune(settings).isEmpty)
        }
    }
}

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
            let tenant = UUID()
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

    @Test("pruning deletes finished jobs past their age, in batches, keeps a store's newest job, recent rows and anything unfinished, then runs the program's rules")
    func pruning() async throws {
        try await EngineHarness.with { h in
            let store = h.queue.store
            // A store with an old create and a newer (also old) job: the create goes, the newest stays.
            let live = try await h.createStore()
            let oldCreate = try await store.enqueueForTest(h.scripted(store: live))
            let newest = try await store.enqueueForTest(h.scripted(store: live))
            // Store-less jobs: 7 old ones (more than a batch of 3), one recent, one old but still waiting.
            var old: [UUID] = []
            for _ in 0..<7 { old.append(try await store.enqueueForTest(h.scripted())) }
            let fresh = try await store.enqueueForTest(h.scripted())
            let unfinished = try await store.enqueueForTest(h.scripted())
            try await h.postgres.query("""
                UPDATE jobs SET status = 'succeeded', finished_at = now() - interval '40 days', created_at = now() - interval '41 days'
                WHERE id = ANY(\(PostgresTextArray(([oldCreate] + old).map { $0.uuidString.lowercased() }))::uuid[])
                """)
            try await h.postgres.query("UPDATE jobs SET status = 'succeeded', finished_at = now() - interval '35 days', created_at = now() - interval '36 days' WHERE id = \(newest)")
            try await h.postgres.query("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = \(fresh)")
            try await h.postgres.query("UPDATE jobs SET created_at = now() - interval '50 days' WHERE id = \(unfinished)")

            // A program's rule, run after the engine's own with the same batch size, until it deletes less.
            let calls = LockedCounter()
            var settings = RetentionSettings()
            settings.batch = 3
            settings.rules = [RetentionRule("widgets") { _, limit in
                #expect(limit == 3)
                return calls.next() < 2 ? .init(rows: limit, jobs: 1) : .init(rows: 1)
            }, RetentionRule("gadgets") { _, _ in .init(rows: 0) }]
            let pruned = try await store.prune(settings)
            #expect(pruned.jobs == 8 + 2, "the engine's own and those that went with a rule's rows: \(pruned)")
            #expect(pruned[rule: "widgets"] == 7)
            #expect(pruned.description == "jobs=10 widgets=7 gadgets=0", "rules in their order")
            let left = Set(try await h.postgres.query("SELECT id FROM jobs").rows.map { try $0.decode("id", as: UUID.self) })
            #expect(left == [newest, fresh, unfinished])
            #expect(try await h.postgres.query("SELECT count(*) AS n FROM job_transitions WHERE job_id = \(oldCreate)").first!.decode("n", as: Int.self) == 0,
                    "a pruned job's history goes with it")
            // The counters followed the deletes.
            #expect(try await store.jobCounts() == counted(h))
            // Nothing left to prune: a second pass deletes nothing.
            settings.rules = []
            #expect(try await store.prune(settings).isEmpty)
        }
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value - 1
    }
}

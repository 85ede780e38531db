import Foundation
@testable import Jobs
import SyntheticJobs
import Postgres
import Redis
import ServiceRuntime
import Testing
import TestSupport

/// The engine's fence: a claim's writes land only while the job is `running` at the claim's epoch, so
/// a claim that was reaped or superseded records nothing, whichever process (or slot) holds it.
@Suite("Claims are fenced by epoch, not by worker", .serialized)
struct FencingTests {
    @Test("a reaped claim's writes are refused even when the new claim is the same worker's, and the history says which claim wrote what")
    func staleEpochRefused() async throws {
        try await EngineHarness.with { h in
            let store = h.queue.store
            let id = try await store.enqueueForTest(h.scripted())
            guard case .claimed(let first, _) = try await store.claim([id], worker: "w", lease: 30)[0] else {
                Issue.record("not claimed"); return
            }
            #expect(first.epoch == 1)
            // The lease runs out (Postgres unreachable from the worker, say); the reaper hands the job back
            // and a slot of the same process claims it again.
            try await h.postgres.query("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = \(id)")
            #expect(try await store.reapExpiredLeases() == [id])
            guard case .claimed(let second, _) = try await store.claim([id], worker: "w", lease: 30)[0] else {
                Issue.record("not claimed again"); return
            }
            #expect(second.epoch == 2)
            let stale = JobStore.Claim(job: id, epoch: 1), live = JobStore.Claim(job: id, epoch: 2)

            // Every write of the stale claim is refused, with the same worker ID as the live one.
            let successes = try await store.recordSuccesses([JobStore.StepSuccess(job: id, epoch: 1, position: 0, durationMs: 1, isLast: false)], worker: "w")
            #expect(successes.isEmpty)
            await #expect(throws: JobStore.LeaseLost.self) {
                try await store.scheduleRetry(id, epoch: 1, worker: "w", position: 0, durationMs: 1, message: "stale", delay: 0)
            }
            await #expect(throws: JobStore.LeaseLost.self) {
                try await store.finish(first, worker: "w", position: 0, durationMs: 1, status: .failed, message: "stale", hook: nil)
            }
            await #expect(throws: JobStore.LeaseLost.self) {
                try await store.fenced(id, epoch: 1) { connection in
                    try await connection.query("UPDATE jobs SET error = 'written by a stale claim' WHERE id = \(id)")
                }
            }
            try await store.release(id, epoch: 1, worker: "w", position: 0, durationMs: 1, message: "stale")
            try await store.reportProgress(job: id, epoch: 1, position: 0, message: "stale progress")
            let renewed = try await store.renewLeases([stale, live], lease: 30)
            #expect(renewed[stale] == nil && renewed[live] == false, "only the live claim is renewed")

            let now = try #require(try await store.position(id))
            #expect(now.status == .running && now.epoch == 2 && now.currentStep == 0)
            let job = try #require(try await store.snapshot(id, includeTransitions: false))
            #expect(job.error == nil)
            #expect(job.steps[0].message != "stale progress")

            // The live claim writes; the history carries each claim's epoch.
            try await store.fenced(id, epoch: 2) { connection in
                try await connection.query("UPDATE jobs SET payload = payload WHERE id = \(id)")
            }
            _ = try await store.advance(id, epoch: 2, worker: "w", position: 0, durationMs: 1)
            let rows = try await h.postgres.query("""
                SELECT coalesce(step, 'job') AS step, status, epoch FROM job_transitions WHERE job_id = \(id) ORDER BY id
                """).rows.map { "\(try $0.decode("step", as: String.self)):\(try $0.decode("status", as: String.self))@\(try $0.decode("epoch", as: Int?.self).map(String.init) ?? "-")" }
            #expect(rows == [
                "job:queued@-", "job:running@1", "one:running@1", "one:retrying@1",
                "job:running@2", "one:running@2", "one:succeeded@2", "two:running@2",
            ])
        }
    }

    @Test("a job that starts others (a rollout) from a reaped claim starts nothing: enqueue(fencedBy:) inserts and dispatches no job")
    func staleClaimEnqueuesNothing() async throws {
        try await EngineHarness.with { h in
            let store = h.queue.store
            let id = try await store.enqueueForTest(h.scripted())
            guard case .claimed(let first, _) = try await store.claim([id], worker: "w", lease: 30)[0] else {
                Issue.record("not claimed"); return
            }
            try await h.postgres.query("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = \(id)")
            #expect(try await store.reapExpiredLeases() == [id])
            guard case .claimed(let second, _) = try await store.claim([id], worker: "w2", lease: 30)[0] else {
                Issue.record("not claimed again"); return
            }
            _ = try await h.redis.send("DEL", h.keys.queue)
            let child = h.scripted(), other = h.scripted()
            let stale = StepContext(job: first, step: "one", attempt: 1, logger: h.logger, store: store, position: 0)
            await #expect(throws: JobStore.LeaseLost.self) {
                try await h.queue.enqueue(fencedBy: stale) { connection, enqueuer in
                    try await enqueuer.insert(child, on: connection)
                }
            }
            let inserted = try await h.postgres.query("SELECT count(*) AS n FROM jobs WHERE id = \(child.id)").first!.decode("n", as: Int.self)
            #expect(inserted == 0, "the stale claim's child job must not exist")
            #expect(try await h.redis.send("LLEN", h.keys.queue).int == 0, "nothing was dispatched for it")

            // The live claim starts its child once.
            let live = StepContext(job: second, step: "one", attempt: 1, logger: h.logger, store: store, position: 0)
            try await h.queue.enqueue(fencedBy: live) { connection, enqueuer in
                try await enqueuer.insert(other, on: connection)
            }
            let started = try await h.postgres.query("SELECT count(*) AS n FROM jobs WHERE id = \(other.id) AND status = 'queued'").first!.decode("n", as: Int.self)
            #expect(started == 1)
            #expect(try await h.redis.send("LLEN", h.keys.queue).int == 1)
        }
    }

    @Test("a kind's cancel hook runs when a waiting job is cancelled, in the canceller's transaction; a running job's cancel leaves it to the worker")
    func cancelHookForWaitingJobs() async throws {
        try await EngineHarness.with { h in
            try await h.postgres.query("CREATE TABLE IF NOT EXISTS lab_cancelled (job_id uuid PRIMARY KEY, payload text)")
            let hooked = JobStore(postgres: h.postgres, cancelHooks: [
                SyntheticJobs.scriptedKind: { connection, job in
                    try await connection.query("INSERT INTO lab_cancelled (job_id, payload) VALUES (\(job.id), \(job.payload))")
                },
            ])
            let waiting = try await hooked.enqueueForTest(h.scripted())
            let running = try await hooked.enqueueForTest(h.scripted())
            guard case .claimed = try await hooked.claim([running], worker: "w", lease: 30)[0] else {
                Issue.record("not claimed"); return
            }
            // A hook that fails rolls the cancellation back with it: one transaction.
            let statuses = try await h.postgres.transaction { connection in
                [try await hooked.requestCancel(waiting, reason: "test", on: connection),
                 try await hooked.requestCancel(running, reason: "test", on: connection)]
            }
            #expect(statuses == [.cancelled, .running])
            let rows = try await h.postgres.query("SELECT job_id FROM lab_cancelled").rows.map { try $0.decode("job_id", as: UUID.self) }
            #expect(rows == [waiting], "the waiting job's hook ran once; the running job's waits for its worker")

            let failing = JobStore(postgres: h.postgres, cancelHooks: [
                SyntheticJobs.scriptedKind: { _, _ in throw CancellationError() },
            ])
            let third = try await failing.enqueueForTest(h.scripted())
            await #expect(throws: CancellationError.self) {
                try await h.postgres.transaction { connection in try await failing.requestCancel(third, reason: "test", on: connection) }
            }
            #expect(try await failing.position(third)?.status == .queued, "a failed hook leaves the job waiting")
        }
    }

    @Test("a slot stuck past its lease in a call that ignores cancellation: the job is not claimed by another slot of the same worker meanwhile, and the stuck run records nothing")
    func oneJobOneSlot() async throws {
        try await EngineHarness.with { h in
            h.startWorker("solo", concurrency: 2) { settings in
                settings.lease = 1.5
                settings.leaseStopMargin = 0.5
                settings.renewInterval = 60  // no renewal: the lease runs out while the step is stuck
            }
            // The first attempt sleeps 3 s through its cancellation (the lease watch and the step's 2 s
            // timeout both cancel it); this worker's own reaper hands the job back at 1.5 s.
            let id = try await h.queue.enqueue(h.scripted(["one": .init(sleepMs: 3000, sleepAttempts: 1, ignoreCancellation: true)]))
            let job = try #require(try await h.waitUntilFinished([id], within: 30).first)
            #expect(job.status == .succeeded)
            let runs = try await h.postgres.query("""
                SELECT epoch, started_at, finished_at, outcome FROM lab_step_runs WHERE job_id = \(id) AND step = 'one' ORDER BY id
                """).rows.map { (try $0.decode("epoch", as: Int.self), try $0.decode("started_at", as: Date.self),
                                 try $0.decode("finished_at", as: Date?.self), try $0.decode("outcome", as: String?.self)) }
            #expect(runs.count == 2, "\(runs)")
            if runs.count == 2 {
                #expect(runs[0].0 == 1 && runs[1].0 == 2)
                let firstEnded = try #require(runs[0].2)
                #expect(runs[1].1 >= firstEnded, "the second claim ran only after the stuck run ended: never two at once")
            }
            let written = try await h.postgres.query("""
                SELECT count(*) AS n FROM job_transitions WHERE job_id = \(id) AND step = 'one' AND status = 'succeeded' AND epoch = 1
                """).first!.decode("n", as: Int.self)
            #expect(written == 0, "the stuck run, told to stop, recorded no success")
            let successes = try await h.postgres.query("""
                SELECT count(*) AS n FROM job_transitions WHERE job_id = \(id) AND step = 'one' AND status = 'succeeded'
                """).first!.decode("n", as: Int.self)
            #expect(successes == 1)

            // The history checker agrees, including its check that the stuck run (a superseded
            // claim's execution, logged outside the fence) produced no recorded outcome.
            let check = try await ChildProcess.run(
                "python3", [TestEnvironment.repositoryRoot.appendingPathComponent("scripts/check-history.py").path, "--database-url", h.database.url],
                timeout: 120)
            let summary = check.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
            #expect(check.exitCode == 0 && summary.hasSuffix("violations=0"), "\(check.standardOutput) \(check.standardError)")
            #expect(summary.contains("superseded_runs=1"), "the stuck run is counted as superseded: \(summary)")
        }
    }

    @Test("IDs stranded in a worker's processing list (a restart under the same worker ID, a BLMOVE reply lost) are put back and run")
    func strandedInOwnList() async throws {
        try await EngineHarness.with { h in
            // Left by the process before: in the list and marked dispatched, so neither the sweeper's
            // "missing from Redis" pass nor the reclaim of dead workers' lists (this ID lives on) sees it.
            let before = try await h.queue.store.enqueueForTest(h.scripted())
            let processing = h.keys.processing("pod-0")
            _ = try await h.redis.send("LPUSH", processing, before)
            _ = try await h.redis.send("SADD", h.keys.dispatched, before)
            h.startWorker("pod-0", concurrency: 2) { settings in
                settings.reconcileInterval = 0.3
                settings.strandBound = 600  // the sweeper's own rescue must not be what runs these
            }
            #expect(try await h.waitUntilFinished([before], within: 15).first?.status == .succeeded)

            // While it runs: an ID lands in its list with no slot holding it.
            let unseen = try await h.queue.store.enqueueForTest(h.scripted())
            _ = try await h.redis.send("LPUSH", processing, unseen)
            _ = try await h.redis.send("SADD", h.keys.dispatched, unseen)
            #expect(try await h.waitUntilFinished([unseen], within: 15).first?.status == .succeeded)
            // Redis forgets an ID when its claim commits, or, should that removal fail under load, at the
            // reconcile after next: give it those.
            var left: [String: Int] = [:]
            for _ in 0..<50 {
                left = try await h.leftoverRedisKeys()
                if left.isEmpty { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(left.isEmpty, "\(left)")
        }
    }

    @Test("a due job that Redis is said to hold but nobody reads is re-dispatched by the sweeper once it is overdue past the bound")
    func sweeperRescuesDispatched() async throws {
        try await EngineHarness.with { h in
            let id = try await h.queue.store.enqueueForTest(h.scripted())
            // Marked dispatched, in no list any worker reads (a processing list of a worker that lives on
            // elsewhere, say): the sweeper's first pass trusts `dispatched`; the bound does not.
            _ = try await h.redis.send("SADD", h.keys.dispatched, id)
            _ = try await h.redis.send("LPUSH", h.keys.processing("elsewhere"), id)
            _ = try await h.redis.send("ZADD", h.keys.workers, "99999999999999", "elsewhere")
            h.startWorker("sweeper", concurrency: 1) { settings in settings.strandBound = 2 }
            #expect(try await h.waitUntilFinished([id], within: 15).first?.status == .succeeded)
            _ = try await h.redis.send("DEL", h.keys.processing("elsewhere"))
            _ = try await h.redis.send("ZREM", h.keys.workers, "elsewhere")
        }
    }

    /// A failure's clean-up in other systems (deleting a namespace) cannot be fenced: it must happen only
    /// once the claim's own failure has committed. Here the claim is superseded while the clean-up is
    /// being prepared; the failure is refused and the clean-up never runs. Undisturbed, it runs after the
    /// failure is visible.
    @Test("a failure's clean-up in other systems runs only after this claim recorded the failure, never for a superseded claim")
    func cleanupOnlyAfterRecordedFailure() async throws {
        try await EngineHarness.with { h in
            let ran = LockedState<[UUID: String]>([:])
            let superseded = LockedState<Set<UUID>>([])
            let postgres = h.postgres
            let definition = JobDefinition(
                kind: "lab.cleanup", steps: [StepDefinition("fail", timeout: 5, retry: .once) { _ in throw StepFailure.permanent("broken") }],
                beforeFailing: { job, message in
                    if superseded.withLock({ $0.contains(job.id) }) {
                        // Frozen here while the lease ran out and another claim took the job.
                        _ = try? await postgres.query("UPDATE jobs SET epoch = epoch + 1 WHERE id = \(job.id)")
                    }
                    return FailureCleanup(message: message + " (cleaning up)") {
                        let status = (try? await postgres.query("SELECT status FROM jobs WHERE id = \(job.id)").first?.decode("status", as: String.self)) ?? nil
                        ran.withLock { $0[job.id] = status ?? "?" }
                    }
                })
            var settings = JobWorkerSettings(workerID: "cleaner", concurrency: 2)
            settings.renewInterval = 0.2
            settings.pollWait = 0.2
            let worker = JobWorker(settings: settings, postgres: h.postgres, redis: h.redis, keys: h.keys, definitions: [definition], logger: h.logger)
            let task = Task { await worker.run() }
            defer { worker.shutdown() }

            let stale = NewJob(kind: "lab.cleanup", steps: ["fail"], payload: "{}")
            superseded.withLock { _ = $0.insert(stale.id) }
            let fresh = NewJob(kind: "lab.cleanup", steps: ["fail"], payload: "{}")
            _ = try await h.queue.enqueue(stale)
            _ = try await h.queue.enqueue(fresh)
            try await eventually(within: 15) { guard ran.withLock({ $0[fresh.id] }) != nil else { throw CancellationError() } }
            #expect(ran.withLock { $0[fresh.id] } == "failed", "the clean-up saw the failure already recorded")
            let freshJob = try #require(try await h.queue.snapshot(fresh.id))
            #expect(freshJob.error?.hasSuffix("(cleaning up)") == true)
            try await Task.sleep(for: .seconds(1))
            #expect(ran.withLock { $0[stale.id] } == nil, "a superseded claim cleans up nothing")
            let staleJob = try #require(try await h.queue.snapshot(stale.id))
            #expect(staleJob.status == .running, "its failure was refused: the newer claim owns the job")
            worker.shutdown()
            await task.value
        }
    }
}

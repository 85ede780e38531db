import Foundation
import Jobs
import SyntheticJobs
import Postgres
import Redis
@testable import ServiceRuntime
import Testing
import TestSupport

@Suite("Job engine against real Postgres and Redis")
struct EngineTests {
    @Test("a job runs its steps in order, records every transition, and leaves nothing in Redis")
    func happyPath() async throws {
        try await EngineHarness.with { h in
            h.startWorker()
            let id = try await h.queue.enqueue(h.scripted())
            let job = try #require(try await h.waitUntilFinished([id]).first)
            #expect(job.status == .succeeded)
            #expect(job.progress == 1)
            #expect(job.steps.map(\.status) == [.succeeded, .succeeded, .succeeded])
            #expect(job.steps.map(\.attempts) == [1, 1, 1])
            let history = (job.transitions ?? []).map { "\($0.step ?? "job"):\($0.status)" }
            #expect(history == [
                "job:queued", "job:running", "one:running", "one:succeeded", "two:running", "two:succeeded",
                "three:running", "three:succeeded", "job:succeeded",
            ])
            #expect(job.transitions?.allSatisfy { $0.step == nil || $0.workerID != nil } == true)
            #expect(try await h.runs(id).map(\.step) == ["one", "two", "three"])
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await h.leftoverRedisKeys().isEmpty)
        }
    }

    @Test("jobs given back after their worker died go to the head of the queue, ahead of the backlog")
    func recoveredJobsGoAhead() async throws {
        try await EngineHarness.with { h in
            var backlog: [UUID] = []
            for _ in 0..<5 { backlog.append(try await h.queue.enqueue(h.scripted())) }
            let recovered = UUID()
            await h.queue.dispatch([recovered], ahead: true)
            let later = try await h.queue.enqueue(h.scripted())
            // Workers take from the right: the recovered job first, then the backlog oldest first.
            let list = try await h.redis.send("LRANGE", h.keys.queue, 0, -1).array?.compactMap(\.string) ?? []
            let order = list.reversed().map { UUID(uuidString: $0) }
            #expect(order == [recovered] + backlog + [later])
        }
    }

    @Test("retryable failures wait at least their delay, every failed attempt stays in the history, and the job succeeds")
    func retriesHonourDelays() async throws {
        try await EngineHarness.with { h in
            h.startWorker()
            let id = try await h.queue.enqueue(h.scripted(["two": .init(failTimes: 2, retryAfter: 0.3)]))
            let job = try #require(try await h.waitUntilFinished([id]).first)
            #expect(job.status == .succeeded)
            #expect(job.steps[1].attempts == 3)
            let two = (job.transitions ?? []).filter { $0.step == "two" }
            #expect(two.map(\.status) == ["running", "retrying", "running", "retrying", "running", "succeeded"])
            #expect(two.map(\.attempt) == [1, 1, 2, 2, 3, 3])
            #expect(two[1].message?.contains("scripted failure 1 of 2") == true)
            for (retrying, next) in [(two[1], two[2]), (two[3], two[4])] {
                #expect(next.at.timeIntervalSince(retrying.at) >= 0.29, "retry waited \(next.at.timeIntervalSince(retrying.at))s")
            }
            // Finished steps are not repeated by retries of a later step.
            #expect(try await h.runs(id).filter { $0.step == "one" }.count == 1)
        }
    }

    @Test("exhausted attempts fail the job with the last error, and later steps never run")
    func exhaustedAttempts() async throws {
        try await EngineHarness.with { h in
            h.startWorker()
            let id = try await h.queue.enqueue(h.scripted(["two": .init(failTimes: 10)]))
            let job = try #require(try await h.waitUntilFinished([id]).first)
            #expect(job.status == .failed)
            #expect(job.error?.contains("step two failed after 3 attempts") == true)
            #expect(job.error?.contains("scripted failure 3 of 10") == true)
            #expect(job.steps.map(\.status) == [.succeeded, .failed, .cancelled])
            #expect(try await h.runs(id).map(\.step) == ["one", "two", "two", "two"])
        }
    }

    @Test("a permanent failure fails the job at once")
    func permanentFailure() async throws {
        try await EngineHarness.with { h in
            h.startWorker()
            let id = try await h.queue.enqueue(h.scripted(["one": .init(permanent: true)]))
            let job = try #require(try await h.waitUntilFinished([id]).first)
            #expect(job.status == .failed)
            #expect(job.steps[0].attempts == 1)
            #expect(job.error == "step one failed: scripted permanent failure of one")
        }
    }

    @Test("a step over its timeout is interrupted and retried")
    func stepTimeout() async throws {
        try await EngineHarness.with { h in
            h.startWorker()
            let id = try await h.queue.enqueue(h.scripted(["one": .init(sleepMs: 5000, sleepAttempts: 1)]))
            let job = try #require(try await h.waitUntilFinished([id]).first)
            #expect(job.status == .succeeded)
            #expect(job.steps[0].attempts == 2)
            let retrying = try #require(job.transitions?.first { $0.step == "one" && $0.status == "retrying" })
            #expect(retrying.message?.contains("did not finish within 2s") == true)
            #expect((retrying.durationMs ?? 0) >= 1900 && (retrying.durationMs ?? 0) < 4000)
        }
    }

    @Test("cancelling a waiting job ends it at once; cancelling a running job stops it at its next checkpoint")
    func cancellation() async throws {
        try await EngineHarness.with { h in
            let waiting = try await h.queue.enqueue(h.scripted())
            #expect(try await h.queue.cancel(waiting) == .cancelled)
            #expect(try await h.queue.snapshot(waiting)?.status == .cancelled)

            h.startWorker()
            let running = try await h.queue.enqueue(h.scripted(["two": .init(sleepMs: 1500)]))
            try await eventually(within: 10) {
                guard try await h.queue.snapshot(running)?.steps[1].status == .running else { throw CancellationError() }
            }
            #expect(try await h.queue.cancel(running) == .running)
            let job = try #require(try await h.waitUntilFinished([running, waiting]).first)
            #expect(job.status == .cancelled)
            #expect(job.steps.map(\.status) == [.succeeded, .cancelled, .cancelled])
            let runs = try await h.runs(running)
            #expect(runs.map(\.step) == ["one", "two"])
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await h.runs(running).last?.outcome == "interrupted")
            // The waiting job never ran at all.
            #expect(try await h.runs(waiting).isEmpty)
        }
    }

    @Test("several workers racing for duplicated IDs run each step of each job exactly once")
    func claimRace() async throws {
        try await EngineHarness.with { h in
            for _ in 0..<3 { h.startWorker(concurrency: 4) }
            var ids: [UUID] = []
            for _ in 0..<40 { ids.append(try await h.queue.enqueue(h.scripted())) }
            // Duplicate dispatch: every ID is in the queue three more times.
            await h.queue.dispatch(ids + ids + ids)
            let jobs = try await h.waitUntilFinished(ids, within: 60)
            #expect(jobs.allSatisfy { $0.status == .succeeded })
            let counts = try await h.postgres.query("""
                SELECT count(*) AS runs, count(DISTINCT (job_id, step)) AS distinct_runs FROM lab_step_runs
                """).first!
            #expect(try counts.decode("runs", as: Int.self) == 120)
            #expect(try counts.decode("distinct_runs", as: Int.self) == 120)
            let workers = try await h.postgres.query("SELECT count(DISTINCT worker_id) AS n FROM lab_step_runs").first!.decode("n", as: Int.self)
            #expect(workers > 1, "the load spread across workers")
        }
    }

    @Test("jobs queued while Redis loses all its data still complete (the sweeper refills Redis from Postgres)")
    func redisLosesData() async throws {
        try await EngineHarness.with { h in
            var ids: [UUID] = []
            for _ in 0..<20 { ids.append(try await h.queue.enqueue(h.scripted())) }
            let keys = try await h.redis.send("KEYS", "\(h.keys.prefix):*").array?.compactMap(\.string) ?? []
            #expect(!keys.isEmpty)
            try await h.redis.send(RedisCommand("DEL", keys))
            h.startWorker()
            let jobs = try await h.waitUntilFinished(ids)
            #expect(jobs.allSatisfy { $0.status == .succeeded })
        }
    }

    @Test("jobs of the same store never run at the same time")
    func oneJobPerStore() async throws {
        try await EngineHarness.with { h in
            h.startWorker(concurrency: 4)
            h.startWorker(concurrency: 4)
            let store = try await h.createStore()
            let first = try await h.queue.enqueue(h.scripted(["one": .init(sleepMs: 400)], store: store))
            let second = try await h.queue.enqueue(h.scripted(["one": .init(sleepMs: 100)], store: store))
            let jobs = try await h.waitUntilFinished([first, second])
            #expect(jobs.allSatisfy { $0.status == .succeeded })
            let a = try await h.runs(first)
            let b = try await h.runs(second)
            let aEnd = try #require(a.compactMap(\.finishedAt).max())
            let bStart = try #require(b.map(\.startedAt).min())
            // In the order they were enqueued, and without overlap.
            #expect(bStart >= aEnd, "the second job started only after the first ended")
        }
    }

    @Test("a delete that supersedes a running create cancels it, and runs once the create has stopped")
    func deleteSupersedesCreate() async throws {
        try await EngineHarness.with { h in
            h.startWorker(concurrency: 4)
            let store = try await h.createStore()
            let create = try await h.queue.enqueue(h.scripted(["two": .init(sleepMs: 1500)], store: store))
            try await eventually(within: 10) {
                guard try await h.queue.snapshot(create)?.steps[1].status == .running else { throw CancellationError() }
            }
            let delete = h.scripted(store: store)
            try await h.queue.enqueue { connection, enqueuer in
                try await h.queue.store.requestCancelActive(store: store, except: nil, reason: "superseded by a delete", on: connection)
                try await enqueuer.insert(delete, on: connection)
            }
            let jobs = try await h.waitUntilFinished([create, delete.id])
            #expect(jobs.map(\.status) == [.cancelled, .succeeded])
            let createRuns = try await h.runs(create)
            let deleteRuns = try await h.runs(delete.id)
            #expect(createRuns.map(\.step) == ["one", "two"], "the create stopped in its second step")
            let createEnd = try #require(createRuns.compactMap(\.finishedAt).max())
            let deleteStart = try #require(deleteRuns.map(\.startedAt).min())
            #expect(deleteStart >= createEnd)
        }
    }

    @Test("a job enqueued in a transaction that rolls back leaves no trace in Postgres or Redis")
    func enqueueIsTransactional() async throws {
        try await EngineHarness.with { h in
            let job = h.scripted()
            var aborted = false
            do {
                try await h.queue.enqueue { connection, enqueuer in
                    try await enqueuer.insert(job, on: connection)
                    throw Abort()
                }
            } catch is Abort {
                aborted = true
            }
            #expect(aborted)
            let snapshot = try await h.queue.snapshot(job.id)
            #expect(snapshot == nil)
            let leftovers = try await h.leftoverRedisKeys()
            #expect(leftovers.isEmpty)
        }
    }

    @Test("on shutdown a worker hands its running job back and another worker continues at the same step")
    func gracefulShutdownHandsBack() async throws {
        try await EngineHarness.with { h in
            let leaving = h.startWorker("leaving") { $0.shutdownGrace = 0.3 }
            // Only the leaving worker sleeps: the staying one's run of the same attempt ends at once (with a
            // 1.5 s sleep under a 2 s step timeout, a loaded CI machine timed that run out and retried it).
            let id = try await h.queue.enqueue(h.scripted(["two": .init(sleepMs: 1500, sleepWorkers: ["leaving"])]))
            try await eventually(within: 10) {
                guard try await h.queue.snapshot(id)?.steps[1].status == .running else { throw CancellationError() }
            }
            leaving.shutdown()
            h.startWorker("staying")
            let job = try #require(try await h.waitUntilFinished([id]).first)
            #expect(job.status == .succeeded)
            #expect(job.transitions?.contains { $0.step == "two" && $0.status == "interrupted" && $0.workerID == "leaving" } == true)
            let runs = try await h.runs(id)
            #expect(runs.filter { $0.step == "one" }.count == 1)
            #expect(runs.filter { $0.step == "two" }.map(\.worker) == ["leaving", "staying"],
                    "\(job.transitions?.map { "\($0.step ?? "-") \($0.status) \($0.message ?? "")" } ?? [])")
            // An interruption by shutdown does not count as a failed attempt.
            #expect(job.steps[1].attempts == 1)
        }
    }

    @Test("a worker that cannot renew a lease in time stops the step itself, before another worker could be handed the job")
    func stopsBeforeItsLeaseRunsOut() async throws {
        try await EngineHarness.with { h in
            h.startWorker("unrenewed", concurrency: 1) { settings in
                settings.lease = 1.5
                settings.leaseStopMargin = 0.5
                settings.renewInterval = 60  // no renewal comes in time
                settings.maintenanceInterval = 60  // nor a reaper: only the worker's own watch can stop the step
            }
            // 1.9 s runs past the lease but within the lab step's 2 s timeout.
            let id = try await h.queue.enqueue(h.scripted(["one": .init(sleepMs: 1900)]))
            let run = try await eventually(within: 10) { () throws -> EngineHarness.Run in
                guard let run = try await h.runs(id).first, run.finishedAt != nil else { throw CancellationError() }
                return run
            }
            #expect(run.outcome == "interrupted", "the step was stopped, not left to run on without a lease")
            let snapshot = try #require(try await h.queue.snapshot(id))
            #expect(snapshot.steps[0].status == .running, "and nothing was recorded by a worker that no longer holds the job")
        }
    }
}

@Suite("Job engine across crashes and restarts", .serialized)
struct EngineCrashTests {
    @Test("a worker killed with SIGKILL mid-step: the job completes elsewhere within 15 s, only the interrupted step runs again")
    func sigkillMidStep() async throws {
        try await EngineHarness.with { h in
            let lab = TestEnvironment.productsDirectory.appendingPathComponent("storefleet-jobs-bench").path
            var environment = ProcessInfo.processInfo.environment
            environment["DATABASE_URL"] = h.database.url
            environment["REDIS_KEY_PREFIX"] = h.keys.prefix
            environment["WORKER_CONCURRENCY"] = "2"
            var processes: [String: RunningProcess] = [:]
            for name in ["victim", "survivor"] {
                environment["WORKER_ID"] = name
                processes[name] = try ChildProcess.spawn(lab, ["worker"], environment: environment)
            }
            defer { processes.values.forEach { $0.signal(SIGKILL) } }
            // Let both start before work arrives, so either may take it.
            try await Task.sleep(for: .seconds(1))
            let id = try await h.queue.enqueue(h.scripted(["two": .init(sleepMs: 1800, sleepAttempts: 1)]))
            let first = try await eventually(within: 20) { () throws -> EngineHarness.Run in
                guard let run = try await h.runs(id).first(where: { $0.step == "two" }) else { throw CancellationError() }
                return run
            }
            let killedAt = Date()
            processes[first.worker]?.signal(SIGKILL)
            _ = await processes[first.worker]?.wait()
            let job = try #require(try await h.waitUntilFinished([id], within: 30).first)
            #expect(job.status == .succeeded)
            let runs = try await h.runs(id)
            #expect(runs.filter { $0.step == "one" }.count == 1, "finished steps are not repeated")
            let twos = runs.filter { $0.step == "two" }
            #expect(twos.count == 2)
            #expect(twos.first?.finishedAt == nil, "the killed attempt never finished")
            #expect(twos.last?.worker != first.worker)
            let resumedAt = try #require(twos.last?.startedAt)
            #expect(resumedAt.timeIntervalSince(killedAt) < 15, "recovered after \(resumedAt.timeIntervalSince(killedAt))s")
            let reaped = job.transitions?.first { $0.step == "two" && $0.status == "retrying" }
            #expect(reaped?.message?.contains("stopped renewing its lease") == true)
        }
    }

    @Test("Postgres restarted mid-run: workers pause and recover, and no transition is lost")
    func postgresRestart() async throws {
        try await withThrowawayServer(.postgres) { server in
            try await EngineHarness.with(databaseURL: server.url) { h in
                h.startWorker(concurrency: 4)
                var ids: [UUID] = []
                for _ in 0..<12 { ids.append(try await h.queue.enqueue(h.scripted(["two": .init(sleepMs: 300)]))) }
                try await Task.sleep(for: .milliseconds(400))
                try await server.restart()
                let jobs = try await h.waitUntilFinished(ids, within: 60)
                #expect(jobs.allSatisfy { $0.status == .succeeded })
                for job in jobs {
                    for step in SyntheticJobs.scriptedSteps {
                        let statuses = (job.transitions ?? []).filter { $0.step == step }.map(\.status)
                        #expect(statuses.first == "running" && statuses.last == "succeeded", "\(step): \(statuses)")
                        #expect(statuses.filter { $0 == "running" }.count == statuses.filter { $0 != "running" }.count,
                                "every attempt of \(step) has its ending: \(statuses)")
                    }
                }
            }
        }
    }

    @Test("Redis restarted with jobs queued: every job still completes")
    func redisRestart() async throws {
        try await withThrowawayServer(.redis) { server in
            try await EngineHarness.with(redisURL: server.url) { h in
                var ids: [UUID] = []
                for _ in 0..<15 { ids.append(try await h.queue.enqueue(h.scripted())) }
                try await server.restart()
                h.startWorker()
                let jobs = try await h.waitUntilFinished(ids, within: 30)
                #expect(jobs.allSatisfy { $0.status == .succeeded })
            }
        }
    }
}

@Suite("Backoff and failure classification")
struct BackoffTests {
    @Test("delays grow exponentially, are capped, jittered within the ceiling, and respect a minimum")
    func backoff() {
        let backoff = Backoff(initialDelay: 0.5, multiplier: 2, maxDelay: 4)
        #expect((1...6).map { backoff.ceiling(attempt: $0) } == [0.5, 1, 2, 4, 4, 4])
        for attempt in 1...6 {
            for _ in 0..<200 {
                let delay = backoff.delay(attempt: attempt)
                #expect(delay >= 0 && delay <= backoff.ceiling(attempt: attempt))
            }
        }
        #expect(backoff.delay(attempt: 1, minimum: 7) == 7)
        let spread = Set((0..<50).map { _ in backoff.delay(attempt: 4) })
        #expect(spread.count > 10, "full jitter spreads retries")
    }

    @Test("polls come soon at first, then every `longest` seconds, each jittered by at most 10%")
    func pollSchedule() {
        let polls = PollSchedule(first: 0.5, growth: 1.5, longest: 2)
        #expect((1...6).map { polls.nominal(after: $0) } == [0.5, 0.75, 1.125, 1.6875, 2, 2])
        for look in 1...6 {
            for _ in 0..<100 {
                let wait = polls.wait(after: look)
                #expect(wait >= polls.nominal(after: look) * 0.9 && wait <= polls.nominal(after: look) * 1.1)
            }
        }
        #expect(Set((0..<20).map { _ in polls.wait(after: 5) }).count > 5, "jittered")
    }

    @Test("errors are classified as retryable or permanent")
    func classification() {
        #expect(StepFailure.permanent("x").disposition == .permanent)
        #expect(StepFailure.retryable("x", after: 3).disposition == .retryable(minimumDelay: 3))
        #expect(PostgresError(.connectionLost, "x").disposition == .retryable(minimumDelay: nil))
        #expect(PostgresError(.server, "x", sqlState: "23505").disposition == .permanent)
        #expect(PostgresError(.server, "x", sqlState: "40001").disposition == .retryable(minimumDelay: nil))
        #expect(RedisError(.server, "WRONGTYPE x").disposition == .permanent)
        #expect(RedisError(.server, "LOADING x").disposition == .retryable(minimumDelay: nil))
        #expect(TimeoutError(seconds: 1, operation: "x").disposition == .retryable(minimumDelay: nil))
    }
}

struct Abort: Error {}

import Foundation
import Logging
import Postgres
import Redis
import ServiceRuntime

/// Timing of a worker; the defaults give an orphaned job a new worker within about 12 s of a crash.
public struct JobWorkerSettings: Sendable {
    public var workerID: String
    /// Jobs run at once by this process.
    public var concurrency: Int
    /// How long a claim lasts without renewal.
    public var lease: Double = 10
    /// How often leases are renewed (well before they expire) and cancellation requests picked up.
    public var renewInterval: Double = 2
    /// A job whose lease has less than this left without a renewal is stopped by this worker itself:
    /// time for its step to stop (helm gets SIGTERM, then SIGKILL after a 3 s grace) while the lease
    /// still holds. With the defaults, three renewals in a row must fail first.
    public var leaseStopMargin: Double = 4
    /// How long a heartbeat keeps this worker's processing list from being reclaimed.
    public var heartbeatTTL: Double = 6
    /// How long one BLMOVE waits before checking for shutdown.
    public var pollWait: Double = 1
    /// How often due retries move to the queue.
    public var promoteInterval: Double = 0.1
    /// How often this worker tries to run the reaper and sweeper (one worker at a time runs them).
    public var maintenanceInterval: Double = 1
    /// How long a due job may be missing from Redis before the sweeper pushes it again.
    public var sweepGrace: Double = 3
    /// When another job of the same store is running, how long until the claim is tried again.
    public var busyDelay: Double = 1
    /// On shutdown, how long running steps may take to finish before they are interrupted and handed back.
    public var shutdownGrace: Double = 20

    public init(workerID: String, concurrency: Int) {
        self.workerID = workerID
        self.concurrency = concurrency
    }
}

/// Takes jobs from Redis, claims them in Postgres and runs their steps: the worker side of the engine.
///
/// Life of a job here: BLMOVE its ID from the queue into this worker's processing list; claim it with
/// one conditional update (`job_claim`); drop the ID from Redis; run the steps from the first unfinished
/// one, each under its timeout, recording every transition; on a retryable failure release the job and
/// schedule it in the retry set; on success, permanent failure or cancellation, end it. Meanwhile a
/// heartbeat renews leases and picks up cancellation requests, and the maintenance loop promotes due
/// retries and, under a lock, reaps expired leases, reclaims dead workers' lists and sweeps lost jobs.
public final class JobWorker: Sendable {
    public let settings: JobWorkerSettings
    let store: JobStore
    let queue: JobQueue
    let redis: RedisClient
    let keys: RedisKeys
    let definitions: [String: JobDefinition]
    let logger: Logger
    let metrics: JobMetrics
    /// Group commits for the engine's most frequent writes: claims, step successes, and forgetting
    /// claimed IDs in Redis. A busy worker's slots share their round trips.
    let claims: GroupCommit<UUID, JobStore.ClaimOutcome>
    let successes: GroupCommit<JobStore.StepSuccess, SuccessOutcome>
    let finishes: GroupCommit<UUID, Void>

    enum SuccessOutcome: Sendable {
        /// Recorded; the attempt number of the step that started, or nil when the job succeeded.
        case recorded(nextAttempt: Int?)
        /// The worker no longer owns the job: nothing was recorded.
        case leaseLost
    }

    enum StopReason: Sendable { case cancelRequested, shutdown, leaseLost }

    private struct RunningJob {
        var task: Task<Void, any Error>?
        var stopReason: StopReason?
        /// When the lease surely ends, by this process's clock: the claim or last renewal was sent before
        /// the server stamped `now() + lease`, so this is never later than the server's expiry.
        var leaseEnds: ContinuousClock.Instant
    }

    private struct State {
        var stopping = false
        var running: [UUID: RunningJob] = [:]
    }

    private let state = LockedState(State())

    public init(
        settings: JobWorkerSettings, postgres: PostgresPool, redis: RedisClient, keys: RedisKeys,
        definitions: [JobDefinition], logger: Logger, metrics: JobMetrics = JobMetrics()
    ) {
        self.settings = settings
        self.store = JobStore(postgres: postgres)
        let store = self.store, workerID = settings.workerID, lease = settings.lease
        self.claims = GroupCommit { ids in try await store.claim(ids, worker: workerID, lease: lease) }
        self.successes = GroupCommit { successes in
            let owned = try await store.recordSuccesses(successes, worker: workerID)
            return successes.map { success in owned[success.job].map { .recorded(nextAttempt: $0) } ?? .leaseLost }
        }
        let processing = keys.processing(workerID), dispatched = keys.dispatched
        self.finishes = GroupCommit { ids in
            try await redis.run(EngineScripts.finish, keys: [processing, dispatched], arguments: ids)
            return ids.map { _ in () }
        }
        self.queue = JobQueue(postgres: postgres, redis: redis, keys: keys, logger: logger)
        self.redis = redis
        self.keys = keys
        self.definitions = Dictionary(uniqueKeysWithValues: definitions.map { ($0.kind, $0) })
        var logger = logger
        logger[metadataKey: "worker"] = "\(settings.workerID)"
        self.logger = logger
        self.metrics = metrics
    }

    /// Jobs running now.
    public var runningCount: Int { state.withLock { $0.running.count } }

    /// Runs until `shutdown()`; then stops taking jobs, waits up to the grace period for running steps,
    /// interrupts the rest and hands them back, and returns.
    public func run() async {
        await heartbeat()
        await withTaskGroup(of: Void.self) { group in
            for slot in 0..<settings.concurrency {
                group.addTask { await self.takeJobs(slot: slot) }
            }
            group.addTask { await self.every(self.settings.renewInterval) { await self.heartbeat() } }
            group.addTask { await self.every(self.settings.renewInterval) { await self.renewLeases() } }
            group.addTask { await self.every(0.25) { self.stopJobsOutlivingTheirLeases() } }
            group.addTask { await self.every(self.settings.promoteInterval) { await self.promoteDueRetries() } }
            group.addTask { await self.every(self.settings.maintenanceInterval) { await self.maintain() } }
            // The slots end first (after their jobs); then the background loops see `stopping` and end too.
            await group.waitForAll()
        }
        _ = try? await redis.send("ZREM", keys.workers, settings.workerID)
        logger.info("job worker stopped")
    }

    /// Begins a graceful shutdown; `run()` returns when it is complete.
    public func shutdown() {
        let already = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return state.stopping
        }
        guard !already else { return }
        logger.info("shutting down: no new jobs; running steps get \(formatSeconds(settings.shutdownGrace)) to finish")
        Task {
            try? await Task.sleep(for: .seconds(settings.shutdownGrace))
            self.stopAll(.shutdown)
        }
    }

    /// Interrupts every running job now (used after the grace period).
    func stopAll(_ reason: StopReason) {
        let tasks = state.withLock { state -> [Task<Void, any Error>] in
            var tasks: [Task<Void, any Error>] = []
            for id in state.running.keys {
                if state.running[id]?.stopReason == nil { state.running[id]?.stopReason = reason }
                if let task = state.running[id]?.task { tasks.append(task) }
            }
            return tasks
        }
        tasks.forEach { $0.cancel() }
    }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    // MARK: - Taking jobs

    private func takeJobs(slot: Int) async {
        let connection = redis.makeBlockingConnection(label: "\(settings.workerID).\(slot)")
        let processing = keys.processing(settings.workerID)
        var failures = 0
        while !isStopping {
            do {
                guard let raw = try await connection.blockingMove(from: keys.queue, to: processing, wait: settings.pollWait) else {
                    continue
                }
                failures = 0
                let text = String(decoding: raw, as: UTF8.self)
                guard let id = UUID(uuidString: text) else {
                    logger.warning("dropping a malformed job ID from the queue", metadata: ["value": "\(text.prefix(60))"])
                    _ = try? await redis.send("LREM", processing, 1, raw)
                    continue
                }
                await take(id, processing: processing)
            } catch {
                failures += 1
                let delay = Backoff(initialDelay: 0.1, maxDelay: 5).delay(attempt: failures)
                logger.warning("cannot take jobs from Redis; retrying", metadata: ["error": "\(error)", "in": "\(formatSeconds(delay))"])
                try? await Task.sleep(for: .seconds(delay))
            }
        }
        await connection.close()
    }

    private func take(_ id: UUID, processing: String) async {
        let outcome: JobStore.ClaimOutcome
        let asked = ContinuousClock.now
        do {
            outcome = try await claims.submit(id)
        } catch {
            // Postgres is unreachable: put the ID back for later and pause this slot briefly.
            logger.warning("cannot claim job; handing it back", metadata: ["job": "\(id)", "error": "\(error)"])
            _ = try? await redis.pipeline([RedisCommand("LREM", processing, 1, id), RedisCommand("RPUSH", keys.queue, id)])
            try? await Task.sleep(for: .seconds(0.5))
            return
        }
        switch outcome {
        case .claimed(let job, let cancelRequested):
            // The job is now owned in Postgres under a lease; Redis need not remember it.
            _ = try? await finishes.submit(id)
            await execute(job, cancelRequested: cancelRequested, leaseEnds: asked + .seconds(settings.lease))
        case .notClaimable:
            _ = try? await finishes.submit(id)
        case .early:
            _ = try? await redis.send("LREM", processing, 1, id)
        case .busy:
            _ = try? await redis.run(EngineScripts.schedule, keys: [keys.retry, keys.dispatched], arguments: [id, Int(settings.busyDelay * 1000)])
            _ = try? await redis.send("LREM", processing, 1, id)
        }
    }

    // MARK: - Running a job

    private func execute(_ job: ClaimedJob, cancelRequested: Bool, leaseEnds: ContinuousClock.Instant) async {
        var logger = self.logger
        logger[metadataKey: "job"] = "\(job.id)"
        logger[metadataKey: "kind"] = "\(job.kind)"
        if let store = job.storeID { logger[metadataKey: "store"] = "\(store)" }
        state.withLock { $0.running[job.id] = RunningJob(task: nil, stopReason: cancelRequested ? .cancelRequested : nil, leaseEnds: leaseEnds) }
        defer { _ = state.withLock { $0.running.removeValue(forKey: job.id) } }
        metrics.jobStarted(kind: job.kind)

        guard let definition = definitions[job.kind], definition.stepNames == job.steps else {
            let message = definitions[job.kind] == nil
                ? "no worker knows how to run jobs of kind \"\(job.kind)\"; deploy a worker version that does"
                : "this worker's steps for \(job.kind) (\(definitions[job.kind]!.stepNames.joined(separator: ", "))) differ from the job's (\(job.steps.joined(separator: ", "))); deploy matching workers"
            await end(job, definition: definitions[job.kind], position: min(job.currentStep, job.steps.count - 1), durationMs: 0, status: .failed, message: message, logger: logger)
            return
        }

        var cursor = job.currentStep
        var attempt = job.stepAttempt
        while cursor < definition.steps.count {
            let position = cursor
            let step = definition.steps[position]
            var stepLogger = logger
            stepLogger[metadataKey: "step"] = "\(step.name)"
            stepLogger[metadataKey: "attempt"] = "\(attempt)"

            // Attempts cut short by a dying worker count too, or a step that crashes its worker would be
            // retried forever; but workers also die for reasons of their own (rolling deploys, node
            // drains), so such attempts get a few more chances than the step's retry budget.
            if attempt > step.retry.maxAttempts + Self.interruptionAllowance {
                await end(job, definition: definition, position: position, durationMs: 0, status: .failed,
                          message: "step \(step.name) gave up after \(attempt - 1) attempts, its worker having stopped mid-step again and again; if the step itself crashes the worker, its logs say why", logger: stepLogger)
                return
            }
            if stopReason(job.id) == .cancelRequested {
                await end(job, definition: definition, position: position, durationMs: 0, status: .cancelled,
                          message: "cancelled before step \(step.name)", logger: stepLogger)
                return
            }

            let context = StepContext(job: job, step: step.name, attempt: attempt, logger: stepLogger, store: store, workerID: settings.workerID, position: position)
            let started = ContinuousClock.now
            let task = Task {
                try await withTimeout(seconds: step.timeout, operation: "step \(step.name)") { try await step.run(context) }
            }
            let stopEarly = state.withLock { state -> Bool in
                state.running[job.id]?.task = task
                return state.running[job.id]?.stopReason != nil
            }
            if stopEarly { task.cancel() }
            let result = await task.result
            let elapsed = ContinuousClock.now - started
            let durationMs = elapsed.inSeconds * 1000
            metrics.stepFinished(kind: job.kind, step: step.name, seconds: durationMs / 1000, failed: (try? result.get()) == nil)

            switch result {
            case .success:
                let isLast = position == definition.steps.count - 1
                let success = JobStore.StepSuccess(job: job.id, position: position, durationMs: durationMs, isLast: isLast)
                let outcome = await persist(job.id, logger: stepLogger) {
                    switch try await self.successes.submit(success) {
                    case .recorded(let nextAttempt): return nextAttempt
                    case .leaseLost: throw JobStore.LeaseLost(job: job.id)
                    }
                } committed: { now in
                    isLast ? now.status == .succeeded
                        : (now.status == .running && now.workerID == self.settings.workerID && now.currentStep == position + 1 ? now.stepAttempt : nil) != nil
                } recover: { now in now.stepAttempt }
                guard case .done(let nextAttempt) = outcome else { return }
                if isLast {
                    metrics.jobFinished(kind: job.kind, status: .succeeded)
                    stepLogger.info("job succeeded")
                    await dispatchNextForStore(job)
                    return
                }
                cursor = position + 1
                attempt = nextAttempt ?? 1

            case .failure(let error):
                switch stopReason(job.id) {
                case .leaseLost:
                    stepLogger.warning("lost the job's lease; another worker will finish it")
                    return
                case .shutdown:
                    stepLogger.notice("interrupted by shutdown; handing the job back")
                    _ = await persist(job.id, logger: stepLogger) {
                        try await self.store.release(job.id, worker: self.settings.workerID, position: position, durationMs: durationMs,
                                                     message: "interrupted: worker \(self.settings.workerID) shut down mid-step; another worker continues")
                        return nil
                    } committed: { $0.workerID != self.settings.workerID } recover: { _ in nil }
                    await queue.dispatch([job.id])
                    return
                case .cancelRequested:
                    await end(job, definition: definition, position: position, durationMs: durationMs, status: .cancelled,
                              message: "cancelled during step \(step.name)", logger: stepLogger)
                    return
                case nil:
                    break
                }
                let message = FailureClassifier.message(of: error)
                switch FailureClassifier.disposition(of: error) {
                case .retryable(let minimum) where attempt < step.retry.maxAttempts:
                    let delay = step.retry.backoff.delay(attempt: attempt, minimum: minimum ?? 0)
                    stepLogger.warning("step failed; will retry", metadata: ["error": "\(message)", "in": "\(formatSeconds(delay))"])
                    let text = "attempt \(attempt) of \(step.retry.maxAttempts) failed: \(message); retrying in \(formatSeconds(delay))"
                    let outcome = await persist(job.id, logger: stepLogger) {
                        try await self.store.scheduleRetry(job.id, worker: self.settings.workerID, position: position, durationMs: durationMs, message: text, delay: delay)
                        return nil
                    } committed: { $0.status == .retrying && $0.currentStep == position } recover: { _ in nil }
                    guard case .done = outcome else { return }
                    metrics.retryScheduled(kind: job.kind, step: step.name)
                    _ = try? await redis.run(EngineScripts.schedule, keys: [keys.retry, keys.dispatched], arguments: [job.id, Int((delay * 1000).rounded(.up))])
                    return
                case .retryable:
                    await end(job, definition: definition, position: position, durationMs: durationMs, status: .failed,
                              message: "step \(step.name) failed after \(attempt) attempts: \(message)", logger: stepLogger)
                    return
                case .permanent:
                    await end(job, definition: definition, position: position, durationMs: durationMs, status: .failed,
                              message: "step \(step.name) failed: \(message)", logger: stepLogger)
                    return
                }
            }
        }
    }

    private func stopReason(_ job: UUID) -> StopReason? {
        state.withLock { $0.running[job]?.stopReason }
    }

    private func end(_ job: ClaimedJob, definition: JobDefinition?, position: Int, durationMs: Double, status: JobStatus, message: String, logger: Logger) async {
        // Not for a job this worker no longer holds: another worker may be running it.
        let message = if status == .failed, stopReason(job.id) == nil, let beforeFailing = definition?.beforeFailing {
            await beforeFailing(job, message)
        } else {
            message
        }
        var hook: (@Sendable (PostgresConnection) async throws -> Void)?
        if status == .failed, let onFailed = definition?.onFailed {
            hook = { connection in try await onFailed(connection, job, message) }
        } else if status == .cancelled, let onCancelled = definition?.onCancelled {
            hook = { connection in try await onCancelled(connection, job) }
        }
        let finalHook = hook
        let outcome = await persist(job.id, logger: logger) {
            try await self.store.finish(job, worker: self.settings.workerID, position: position, durationMs: durationMs, status: status, message: message, hook: finalHook)
            return nil
        } committed: { $0.status == status } recover: { _ in nil }
        guard case .done = outcome else { return }
        metrics.jobFinished(kind: job.kind, status: status)
        if status == .failed {
            logger.error("job failed", metadata: ["error": "\(message)"])
        } else {
            logger.notice("job cancelled")
        }
        await dispatchNextForStore(job)
    }

    /// A store's waiting job (say, a delete that arrived during a create) runs as soon as this one ends.
    private func dispatchNextForStore(_ job: ClaimedJob) async {
        guard let storeID = job.storeID, let next = try? await store.nextWaitingJob(store: storeID) else { return }
        await queue.dispatch([next])
    }

    enum Persisted { case done(Int?), abandoned }

    /// Writes a transition, retrying through Postgres outages with backoff until it lands or the lease is
    /// gone. A write whose reply was lost may have committed: before resending, the job's position is read
    /// back, and `committed` decides whether the write already took effect.
    private func persist(
        _ job: UUID, logger: Logger, _ write: @escaping @Sendable () async throws -> Int?,
        committed: @escaping @Sendable (JobStore.Position) -> Bool,
        recover: @escaping @Sendable (JobStore.Position) -> Int?
    ) async -> Persisted {
        let backoff = Backoff(initialDelay: 0.1, maxDelay: 3)
        var attempt = 0
        var uncertain = false
        while true {
            attempt += 1
            do {
                if uncertain, let now = try await store.position(job), committed(now) {
                    return .done(recover(now))
                }
                return .done(try await write())
            } catch is JobStore.LeaseLost {
                if !uncertain {
                    logger.warning("the job's lease was lost before its transition was recorded; another worker will run the step again")
                    return .abandoned
                }
                uncertain = false
                continue
            } catch {
                if let postgres = error as? PostgresError, !postgres.isTransient {
                    logger.error("cannot record a transition", metadata: ["error": "\(error)"])
                    return .abandoned
                }
                uncertain = true
                let delay = backoff.delay(attempt: attempt)
                logger.warning("cannot record a transition yet; retrying", metadata: ["error": "\(error)", "in": "\(formatSeconds(delay))"])
                try? await Task.sleep(for: .seconds(delay))
            }
        }
    }

    // MARK: - Background loops

    private func every(_ interval: Double, _ body: @Sendable () async -> Void) async {
        func keepGoing() -> Bool { !isStopping || runningCount > 0 }
        while keepGoing() {
            // At a fixed rate: a slow round does not push the next one later by its own length.
            let next = ContinuousClock.now + .seconds(interval)
            await body()
            // In slices, so that a worker stopping does not wait out a long interval.
            while keepGoing(), ContinuousClock.now < next {
                try? await Task.sleep(for: min(next - ContinuousClock.now, .milliseconds(250)))
            }
        }
    }

    /// Keeps this worker visible, so that its processing list is not reclaimed.
    private func heartbeat() async {
        guard !isStopping else { return }
        _ = try? await redis.run(EngineScripts.heartbeat, keys: [keys.workers], arguments: [settings.workerID, Int(settings.heartbeatTTL * 1000)])
    }

    /// Renews the leases of running jobs and stops those that were cancelled or lost. Its own loop, not
    /// the heartbeat's: a Redis stall must not delay the renewals.
    private func renewLeases() async {
        let ids = state.withLock { Array($0.running.keys) }
        guard !ids.isEmpty else { return }
        let sent = ContinuousClock.now
        var owned: [UUID: Bool]?
        do {
            // Not under a timeout: one cannot stop the query already sent (the task group would wait for
            // it anyway) and would throw away a renewal that did land. A renewal stuck behind a busy
            // pool is `stopJobsOutlivingTheirLeases`'s business; when it lands late, its lease still
            // counts from when it was sent.
            owned = try await store.renewLeases(ids, worker: settings.workerID, lease: settings.lease)
        } catch {
            logger.warning("cannot renew leases; will retry", metadata: ["error": "\(error)"])
        }
        let toCancel = state.withLock { state -> [Task<Void, any Error>] in
            var tasks: [Task<Void, any Error>] = []
            guard let owned else { return tasks }
            for id in ids where state.running[id] != nil && state.running[id]?.stopReason == nil {
                switch owned[id] {
                case nil: state.running[id]?.stopReason = .leaseLost
                case true?: state.running[id]?.stopReason = .cancelRequested
                case false?:
                    state.running[id]?.leaseEnds = sent + .seconds(settings.lease)
                    continue
                }
                if let task = state.running[id]?.task { tasks.append(task) }
            }
            return tasks
        }
        toCancel.forEach { $0.cancel() }
    }

    /// Stops a job whose lease could run out before it is renewed (Postgres unreachable from this
    /// worker, or renewals stuck behind a busy pool), before another worker's reaper can hand it out:
    /// the same step must never run in two places. The margin leaves time for the step to stop (helm
    /// gets SIGTERM) while the lease still holds.
    private func stopJobsOutlivingTheirLeases() {
        let stopBy = ContinuousClock.now + .seconds(settings.leaseStopMargin)
        let toCancel = state.withLock { state -> [Task<Void, any Error>] in
            var tasks: [Task<Void, any Error>] = []
            for (id, job) in state.running where job.stopReason == nil && job.leaseEnds < stopBy {
                state.running[id]?.stopReason = .leaseLost
                if let task = job.task { tasks.append(task) }
            }
            return tasks
        }
        guard !toCancel.isEmpty else { return }
        logger.error("stopping jobs whose leases could not be renewed in time; another worker will run them", metadata: ["count": "\(toCancel.count)"])
        toCancel.forEach { $0.cancel() }
    }

    private func promoteDueRetries() async {
        _ = try? await redis.run(EngineScripts.promoteDue, keys: [keys.retry, keys.queue], arguments: [500])
    }

    /// Extra attempts a step gets when its earlier ones were cut short by a worker dying.
    static let interruptionAllowance = 3

    /// Reaper and sweeper, run by one worker at a time under a short Redis lock.
    private func maintain() async {
        guard !isStopping else { return }
        do {
            let lock = try await redis.send(RedisCommand("SET", keys.maintenanceLock, settings.workerID, "NX", "PX", 5000))
            guard lock == .status("OK") else { return }
            defer { Task { _ = try? await self.redis.run(Self.unlock, keys: [self.keys.maintenanceLock], arguments: [self.settings.workerID]) } }

            let moved = try await redis.run(EngineScripts.reclaimDeadWorkers, keys: [keys.workers, keys.queue], arguments: [keys.prefix]).int ?? 0
            if moved > 0 { logger.notice("requeued job IDs held by workers whose heartbeat stopped", metadata: ["count": "\(moved)"]) }

            let reaped = try await store.reapExpiredLeases()
            if !reaped.isEmpty {
                metrics.leasesReaped(reaped.count)
                logger.notice("requeued jobs whose lease expired", metadata: ["count": "\(reaped.count)"])
                await queue.dispatch(reaped, ahead: true)
            }

            let overdue = try await store.overdueJobs(grace: settings.sweepGrace)
            if !overdue.isEmpty {
                let known = try await redis.send(RedisCommand("SMISMEMBER", [keys.dispatched] + overdue.map(\.id))).array ?? []
                let lost = zip(overdue, known).filter { $0.1.int != 1 }.map(\.0)
                if !lost.isEmpty {
                    metrics.jobsSwept(lost.count)
                    logger.notice("re-dispatched jobs missing from Redis", metadata: ["count": "\(lost.count)"])
                    // After Redis lost its data, jobs that had already begun go ahead again, as the reaper
                    // put them; the rest keep their order at the back.
                    await queue.dispatch(lost.filter(\.begun).map(\.id), ahead: true)
                    await queue.dispatch(lost.filter { !$0.begun }.map(\.id))
                }
            }
        } catch {
            logger.warning("maintenance pass failed; will retry", metadata: ["error": "\(error)"])
        }
    }

    private static let unlock = RedisScript(name: "unlock", source: """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """)
}

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
    /// How long a due job may wait although Redis is said to hold it before the sweeper pushes it
    /// again anyway (an ID stranded in a processing list nobody reads); at most once per this period.
    public var strandBound: Double = 30
    /// How often this worker looks for IDs stranded in its own processing list.
    public var reconcileInterval: Double = 5
    /// When another job of the same store is running, how long until the claim is tried again.
    public var busyDelay: Double = 1
    /// On shutdown, how long running steps may take to finish before they are interrupted and handed back.
    public var shutdownGrace: Double = 20
    /// What the maintenance leader prunes, and when.
    public var retention = RetentionSettings()

    public init(workerID: String, concurrency: Int) {
        self.workerID = workerID
        self.concurrency = concurrency
    }
}

/// Takes jobs from Redis, claims them in Postgres and runs their steps: the worker side of the engine.
///
/// Life of a job here: BLMOVE its ID from the queue into this worker's processing list; claim it with
/// one conditional update (`job_claim`), which hands out the claim's epoch; drop the ID from Redis; run
/// the steps from the first unfinished one, each under its timeout, recording every transition under
/// the epoch; on a retryable failure release the job and schedule it in the retry set; on success,
/// permanent failure or cancellation, end it. Meanwhile leases are renewed and cancellation requests
/// picked up, and the maintenance loop promotes due retries and, under a lock, reaps expired leases,
/// reclaims dead workers' lists and sweeps lost jobs.
///
/// One file per role, as River splits its client: taking and claiming (`JobWorker+Taking`), running a
/// job (`JobWorker+Executing`), keeping leases (`JobWorker+Leases`), rescuing (`JobWorker+Rescuing`:
/// reaper, sweeper, stranded IDs), promoting retries (`JobWorker+Retries`) and retention
/// (`JobWorker+Retention`: job counters and pruning).
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

    struct RunningJob {
        var task: Task<Void, any Error>?
        var stopReason: StopReason?
        /// When the lease surely ends, by this process's clock: the claim or last renewal was sent before
        /// the server stamped `now() + lease`, so this is never later than the server's expiry.
        var leaseEnds: ContinuousClock.Instant
    }

    struct State {
        var stopping = false
        /// Running jobs by claim (job and epoch), so that a stale claim's bookkeeping can never touch a
        /// newer one's.
        var running: [JobStore.Claim: RunningJob] = [:]
        /// Jobs a slot of this process holds, from the moment its ID left the queue until the slot is
        /// done with it: a process never claims, let alone runs, one job in two slots.
        var held: Set<UUID> = []
        /// IDs seen in this worker's processing list with no slot holding them, at the last reconcile.
        var suspects: Set<String> = []
        /// When this worker last pruned (as the maintenance leader).
        var lastPrune: ContinuousClock.Instant?
    }

    let state = LockedState(State())

    public init(
        settings: JobWorkerSettings, postgres: PostgresPool, redis: RedisClient, keys: RedisKeys,
        definitions: [JobDefinition], logger: Logger, metrics: JobMetrics = JobMetrics()
    ) {
        self.settings = settings
        // Jobs this worker's producers cancel while waiting (a step's own enqueue) get their hooks too.
        let cancelHooks = Dictionary(uniqueKeysWithValues: definitions.compactMap { definition in
            definition.onCancelled.map { (definition.kind, $0) }
        })
        self.store = JobStore(postgres: postgres, cancelHooks: cancelHooks)
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
        self.queue = JobQueue(postgres: postgres, redis: redis, keys: keys, logger: logger, cancelHooks: cancelHooks)
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
        // A container restarted in place keeps its worker ID (the pod name): whatever its processing
        // list holds was taken by the process before, and no slot of this one holds it.
        await requeueStrandedIDs(all: true)
        await withTaskGroup(of: Void.self) { group in
            for slot in 0..<settings.concurrency {
                group.addTask { await self.takeJobs(slot: slot) }
            }
            group.addTask { await self.every(self.settings.renewInterval) { await self.heartbeat() } }
            group.addTask { await self.every(self.settings.renewInterval) { await self.renewLeases() } }
            group.addTask { await self.every(0.25) { self.stopJobsOutlivingTheirLeases() } }
            group.addTask { await self.every(self.settings.promoteInterval) { await self.promoteDueRetries() } }
            group.addTask { await self.every(self.settings.maintenanceInterval) { await self.maintain() } }
            group.addTask { await self.every(self.settings.reconcileInterval) { await self.requeueStrandedIDs(all: false) } }
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
            for claim in state.running.keys {
                if state.running[claim]?.stopReason == nil { state.running[claim]?.stopReason = reason }
                if let task = state.running[claim]?.task { tasks.append(task) }
            }
            return tasks
        }
        tasks.forEach { $0.cancel() }
    }

    var isStopping: Bool { state.withLock { $0.stopping } }

    /// Runs `body` at a fixed rate until the worker stops and its jobs are done.
    func every(_ interval: Double, _ body: @Sendable () async -> Void) async {
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
    func heartbeat() async {
        guard !isStopping else { return }
        _ = try? await redis.run(EngineScripts.heartbeat, keys: [keys.workers], arguments: [settings.workerID, Int(settings.heartbeatTTL * 1000)])
    }
}

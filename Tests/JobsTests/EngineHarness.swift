import Foundation
import Jobs
import SyntheticJobs
import Logging
import Postgres
import Redis
import Testing
import TestSupport

/// A fresh, migrated database and a private Redis key prefix, with in-process workers on demand.
final class EngineHarness: @unchecked Sendable {
    let database: TestDatabase
    let postgres: PostgresPool
    let redis: RedisClient
    let keys: RedisKeys
    let queue: JobQueue
    let logger: Logger
    private var workers: [(JobWorker, Task<Void, Never>)] = []

    static func with<T>(redisURL: String? = nil, databaseURL: String? = nil, _ body: (EngineHarness) async throws -> T) async throws -> T {
        try await withTestDatabase { database in
            let harness = try await EngineHarness(database: database, redisURL: redisURL ?? TestEnvironment.redisURL(), databaseURL: databaseURL)
            do {
                let value = try await body(harness)
                await harness.close()
                return value
            } catch {
                await harness.close()
                throw error
            }
        }
    }

    private init(database: TestDatabase, redisURL: String, databaseURL: String?) async throws {
        self.database = database
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        self.logger = logger
        postgres = PostgresPool(configuration: PostgresConfiguration(url: databaseURL ?? database.url, maxConnections: 12))
        redis = RedisClient(configuration: try RedisConfiguration(url: redisURL))
        keys = RedisKeys(prefix: TestEnvironment.uniqueName("engine"))
        queue = JobQueue(postgres: postgres, redis: redis, keys: keys, logger: logger)
        try await JobSchema.migrate(postgres, logger: logger)
        try await SyntheticJobs.prepare(postgres)
    }

    /// Starts an in-process worker with test-friendly timing.
    @discardableResult
    func startWorker(_ id: String = TestEnvironment.uniqueName("w"), concurrency: Int = 4, metrics: JobMetrics = JobMetrics(),
                     configure: (inout JobWorkerSettings) -> Void = { _ in }) -> JobWorker {
        var settings = JobWorkerSettings(workerID: id, concurrency: concurrency)
        settings.renewInterval = 0.2
        settings.pollWait = 0.2
        settings.maintenanceInterval = 0.2
        settings.sweepGrace = 0.5
        settings.busyDelay = 0.1
        settings.shutdownGrace = 5
        configure(&settings)
        let worker = JobWorker(
            settings: settings, postgres: postgres, redis: redis, keys: keys,
            definitions: SyntheticJobs.definitions(postgres: postgres, workerID: id), logger: logger, metrics: metrics
        )
        let task = Task { await worker.run() }
        workers.append((worker, task))
        return worker
    }

    func stopWorkers() async {
        for (worker, _) in workers { worker.shutdown() }
        for (_, task) in workers { await task.value }
        workers = []
    }

    func close() async {
        await stopWorkers()
        let keys = try? await redis.send("KEYS", "\(self.keys.prefix):*").array?.compactMap(\.string)
        if let keys, !keys.isEmpty { _ = try? await redis.send(RedisCommand("DEL", keys)) }
        await postgres.shutdown()
        await redis.shutdown()
    }

    func scripted(_ steps: [String: SyntheticJobs.Behaviour] = [:], store: UUID? = nil) -> NewJob {
        NewJob(kind: SyntheticJobs.scriptedKind, steps: SyntheticJobs.scriptedSteps, storeID: store, payload: SyntheticJobs.Script(steps: steps).json)
    }

    /// Waits until every job is finished, then returns their snapshots with history.
    func waitUntilFinished(_ ids: [UUID], within seconds: Double = 30) async throws -> [JobSnapshot] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            let count = try await postgres.query("""
                SELECT count(*) AS n FROM jobs WHERE id = ANY(\(PostgresTextArray(ids.map { $0.uuidString.lowercased() }))::uuid[])
                AND status IN ('succeeded', 'failed', 'cancelled')
                """).first!.decode("n", as: Int.self)
            if count == ids.count { break }
            if ContinuousClock.now > deadline {
                Issue.record("only \(count) of \(ids.count) jobs finished within \(seconds)s")
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        var snapshots: [JobSnapshot] = []
        for id in ids { if let snapshot = try await queue.snapshot(id, includeTransitions: true) { snapshots.append(snapshot) } }
        return snapshots
    }

    struct Run: Sendable {
        let step: String
        let attempt: Int
        let worker: String
        let startedAt: Date
        let finishedAt: Date?
        let outcome: String?
    }

    /// What really ran for a job, in order.
    func runs(_ job: UUID) async throws -> [Run] {
        try await postgres.query("""
            SELECT step, attempt, worker_id, started_at, finished_at, outcome FROM lab_step_runs WHERE job_id = \(job) ORDER BY id
            """).rows.map {
            Run(step: try $0.decode("step"), attempt: try $0.decode("attempt"), worker: try $0.decode("worker_id"),
                startedAt: try $0.decode("started_at"), finishedAt: try $0.decode("finished_at"), outcome: try $0.decode("outcome"))
        }
    }

    /// The Redis keys of this installation that still hold data.
    func leftoverRedisKeys() async throws -> [String: Int] {
        var sizes: [String: Int] = [:]
        for (key, command) in [(keys.queue, "LLEN"), (keys.retry, "ZCARD"), (keys.dispatched, "SCARD")] {
            let size = try await redis.send(command, key).int ?? 0
            if size > 0 { sizes[key] = size }
        }
        let processing = try await redis.send("KEYS", "\(keys.prefix):processing:*").array?.compactMap(\.string) ?? []
        for key in processing { sizes[key] = try await redis.send("LLEN", key).int ?? 0 }
        return sizes
    }

    /// A store, as the engine sees one: a key whose jobs run one at a time, in order (the engine's schema
    /// holds no stores; the platform's adds the references).
    func createStore() async throws -> UUID {
        UUID()
    }
}

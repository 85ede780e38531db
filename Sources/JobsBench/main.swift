import Foundation
import Jobs
import Platform
import SyntheticJobs
import Logging
import Postgres
import Redis
import ServiceRuntime

// storefleet-jobs-bench: a worker process that runs the synthetic lab job kinds with the real engine, and a
// small driver for the engine benchmark. Not part of a deployment.
//
//   storefleet-jobs-bench worker            run jobs until SIGTERM (WORKER_ID, WORKER_CONCURRENCY, REDIS_KEY_PREFIX)
//   storefleet-jobs-bench enqueue N         insert N lab.noop jobs without dispatching them; prints their count
//   storefleet-jobs-bench dispatch-pending  push every queued job's ID to Redis at once
//   storefleet-jobs-bench trickle N GAP_MS  enqueue and dispatch N lab.noop jobs one at a time, GAP_MS apart
await ProcessEntry.run("storefleet-jobs-bench") {
    let reader = ConfigurationReader()
    try LoggingSettings(from: reader).bootstrap()
    let logger = Logger(label: "storefleet.jobs-bench")
    let backends = try await Backends.start(try Backends.Settings(from: reader, applicationName: "storefleet-jobs-bench"), logger: logger)
    let keys = RedisKeys(prefix: reader.string("REDIS_KEY_PREFIX", default: "storefleet"))
    let arguments = Array(CommandLine.arguments.dropFirst())
    try await SyntheticJobs.prepare(backends.postgres)

    switch arguments.first {
    case "worker":
        let workerID = reader.string("WORKER_ID", default: "lab-\(getpid())")
        var settings = JobWorkerSettings(workerID: workerID, concurrency: try reader.int("WORKER_CONCURRENCY", default: 4, range: 1...256))
        settings.shutdownGrace = try reader.seconds("WORKER_SHUTDOWN_GRACE", default: 5, range: 0...600)
        let worker = JobWorker(
            settings: settings, postgres: backends.postgres, redis: backends.redis, keys: keys,
            definitions: SyntheticJobs.definitions(postgres: backends.postgres, workerID: workerID, recordRuns: reader.raw("LAB_RECORD_RUNS") != "0"),
            logger: logger
        )
        let signals = SignalWatcher(signals: [SIGTERM, SIGINT]) { worker.shutdown() }
        logger.info("lab worker ready")
        await worker.run()
        signals.cancel()
    case "enqueue":
        print(try await insertNoopJobs(Int(arguments.dropFirst().first ?? "") ?? 1000, postgres: backends.postgres))
    case "dispatch-pending":
        let ids = try await backends.postgres.query("SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at").rows.map { try $0.decode("id", as: UUID.self) }
        let queue = JobQueue(postgres: backends.postgres, redis: backends.redis, keys: keys, logger: logger)
        for start in stride(from: 0, to: ids.count, by: 1000) {
            await queue.dispatch(Array(ids[start..<min(start + 1000, ids.count)]))
        }
        print(ids.count)
    case "trickle":
        let count = Int(arguments.dropFirst().first ?? "") ?? 200
        let gap = Int(arguments.dropFirst(2).first ?? "") ?? 10
        let queue = JobQueue(postgres: backends.postgres, redis: backends.redis, keys: keys, logger: logger)
        for _ in 0..<count {
            try await queue.enqueue(NewJob(kind: SyntheticJobs.noopKind, steps: (1...5).map { "step\($0)" }))
            try await Task.sleep(for: .milliseconds(gap))
        }
        print(count)
    default:
        ProcessEntry.fail("storefleet-jobs-bench", "usage: storefleet-jobs-bench worker | enqueue N | dispatch-pending | trickle N GAP_MS", code: 2)
    }
    await backends.shutdown()
}

/// Inserts queued lab.noop jobs in batches, without dispatching them.
nonisolated func insertNoopJobs(_ count: Int, postgres: PostgresPool) async throws -> Int {
    let store = JobStore(postgres: postgres)
    var inserted = 0
    while inserted < count {
        let batch = min(500, count - inserted)
        try await postgres.transaction { connection in
            for _ in 0..<batch {
                try await store.insert(NewJob(kind: SyntheticJobs.noopKind, steps: (1...5).map { "step\($0)" }), on: connection)
            }
        }
        inserted += batch
    }
    return inserted
}

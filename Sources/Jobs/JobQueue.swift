import Foundation
import Logging
import Postgres
import Redis

/// The producer's side of the engine: enqueue jobs in the same transaction as the business change,
/// dispatch their IDs through Redis after commit, cancel, and read.
public struct JobQueue: Sendable {
    public let store: JobStore
    public let redis: RedisClient
    public let keys: RedisKeys
    let logger: Logger

    /// `cancelHooks`: each kind's `onCancelled` (see `JobStore.cancelHooks`); a producer that cancels
    /// jobs of a kind with a hook must pass it, or a waiting job of that kind ends without its bookkeeping.
    public init(postgres: PostgresPool, redis: RedisClient, keys: RedisKeys, logger: Logger,
                cancelHooks: [String: JobStore.CancelHook] = [:]) {
        self.store = JobStore(postgres: postgres, cancelHooks: cancelHooks)
        self.redis = redis
        self.keys = keys
        self.logger = logger
    }

    /// Runs `body` in a transaction in which it may insert jobs with `insert`; after commit, the jobs are
    /// dispatched. A failed dispatch is logged, not thrown: the job is safe in Postgres and the sweeper
    /// dispatches it within seconds.
    public func enqueue<T>(_ body: (PostgresConnection, Enqueuer) async throws -> T) async throws -> T {
        let enqueuer = Enqueuer(store: store)
        let value = try await store.postgres.transaction { connection in
            try await body(connection, enqueuer)
        }
        await dispatch(enqueuer.inserted)
        return value
    }

    /// `enqueue` under a running step's claim: the jobs are inserted only while that claim still owns
    /// its job (a job that starts others, such as a rollout's, must not start them twice from a claim
    /// that was reaped meanwhile).
    public func enqueue<T: Sendable>(fencedBy context: StepContext, _ body: @escaping @Sendable (PostgresConnection, Enqueuer) async throws -> T) async throws -> T {
        let enqueuer = Enqueuer(store: store)
        let value = try await store.fenced(context.job.id, epoch: context.job.epoch) { connection in
            try await body(connection, enqueuer)
        }
        await dispatch(enqueuer.inserted)
        return value
    }

    /// Enqueues one job on its own.
    @discardableResult
    public func enqueue(_ job: NewJob) async throws -> UUID {
        try await enqueue { connection, enqueuer in try await enqueuer.insert(job, on: connection) }
        return job.id
    }

    /// Pushes job IDs onto the queue. Duplicates are harmless: a claim takes each job once.
    /// `ahead` puts the IDs at the head of the queue, where workers take next: for jobs that were
    /// already running when their worker died, so their recovery does not wait behind the backlog.
    public func dispatch(_ ids: [UUID], ahead: Bool = false) async {
        guard !ids.isEmpty else { return }
        do {
            try await redis.run(EngineScripts.dispatch, keys: [keys.queue, keys.dispatched], arguments: [ahead ? "ahead" : "back"] as [any RedisArgument] + ids)
        } catch {
            logger.warning("could not dispatch jobs through Redis; the sweeper will", metadata: ["jobs": "\(ids.count)", "error": "\(error)"])
        }
    }

    /// Cancels a job: at once if it is waiting, at its next checkpoint if it is running.
    @discardableResult
    public func cancel(_ job: UUID, reason: String = "cancelled on request") async throws -> JobStatus? {
        let status = try await store.postgres.transaction { connection in
            try await store.requestCancel(job, reason: reason, on: connection)
        }
        if status == .cancelled {
            _ = try? await redis.pipeline([
                RedisCommand("ZREM", keys.retry, job), RedisCommand("SREM", keys.dispatched, job),
            ])
        }
        return status
    }

    public func snapshot(_ job: UUID, includeTransitions: Bool = false) async throws -> JobSnapshot? {
        try await store.snapshot(job, includeTransitions: includeTransitions)
    }

    /// Inserts jobs inside a producer's transaction and remembers them for dispatch after commit.
    public final class Enqueuer: @unchecked Sendable {
        let store: JobStore
        private(set) var inserted: [UUID] = []

        init(store: JobStore) {
            self.store = store
        }

        public func insert(_ job: NewJob, on connection: PostgresConnection) async throws {
            try await store.insert(job, on: connection)
            inserted.append(job.id)
        }
    }
}

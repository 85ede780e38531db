import Foundation
import Postgres

/// The job engine's Postgres side: every state change is one statement (or one transaction with a
/// hook), conditional on the claim still owning the job, and appends its transition to the history.
/// "Owning" means the job is `running` at the claim's epoch (its fencing token, taken by `job_claim`):
/// a claim that was reaped or superseded finds its writes refused (`LeaseLost`) and stops, so a job
/// never has two writers, not even two slots of one process.
public struct JobStore: Sendable {
    public let postgres: PostgresPool
    /// Each kind's `JobDefinition.onCancelled`, for jobs cancelled while waiting: those end in the
    /// canceller's transaction (a gateway's, which has no definitions), and their hook runs there, so a
    /// kind's bookkeeping on cancellation is the same whoever cancels and whenever.
    public let cancelHooks: [String: CancelHook]

    public typealias CancelHook = @Sendable (PostgresConnection, ClaimedJob) async throws -> Void

    public init(postgres: PostgresPool, cancelHooks: [String: CancelHook] = [:]) {
        self.postgres = postgres
        self.cancelHooks = cancelHooks
    }

    /// Raised when a worker's write finds the job no longer its own (lease expired and reaped).
    public struct LeaseLost: Error, CustomStringConvertible {
        public let job: UUID
        public var description: String { "job \(job) is no longer leased to this worker" }
    }

    // MARK: - Producers

    /// Inserts a queued job with its steps and first transition. Call inside the producer's transaction.
    public func insert(_ job: NewJob, on connection: PostgresConnection) async throws {
        try await connection.query("""
            WITH j AS (
                INSERT INTO jobs (id, kind, store_id, tenant_id, status, steps, payload, traceparent)
                VALUES (\(job.id), \(job.kind), \(job.storeID), \(job.tenantID), 'queued', \(PostgresTextArray(job.steps)), \(PostgresJSON(text: job.payload))::jsonb,
                        \(job.traceparent))
                RETURNING id
            ), s AS (
                INSERT INTO job_steps (job_id, position, name, status)
                SELECT (SELECT id FROM j), ordinality - 1, name, 'pending'
                FROM unnest(\(PostgresTextArray(job.steps))::text[]) WITH ORDINALITY AS step(name, ordinality)
            )
            INSERT INTO job_transitions (job_id, attempt, status) SELECT id, 0, 'queued' FROM j
            """)
    }

    /// Cancels a job. Waiting jobs end `cancelled` at once (returned true), and their kind's cancel hook
    /// runs in this transaction; a running job gets a request that its worker honours at the next
    /// checkpoint (its hook runs there). Finished jobs are left alone.
    public func requestCancel(_ job: UUID, reason: String, on connection: PostgresConnection) async throws -> JobStatus? {
        guard let row = try await connection.query("""
            WITH target AS (SELECT id, status FROM jobs WHERE id = \(job) FOR UPDATE),
            waiting AS (
                UPDATE jobs SET status = 'cancelled', cancel_requested = true, finished_at = now(), updated_at = now(),
                                error = \(reason)
                WHERE id = (SELECT id FROM target WHERE status IN ('queued', 'retrying'))
                RETURNING id, kind, store_id, tenant_id, steps, current_step, payload, epoch
            ), running AS (
                UPDATE jobs SET cancel_requested = true, updated_at = now()
                WHERE id = (SELECT id FROM target WHERE status = 'running')
                RETURNING id
            ), steps AS (
                UPDATE job_steps SET status = 'cancelled' WHERE job_id = (SELECT id FROM waiting) AND status IN ('pending', 'retrying')
            ), t AS (
                INSERT INTO job_transitions (job_id, attempt, status, message)
                SELECT id, 0, 'cancelled', \(reason) FROM waiting
            )
            SELECT CASE WHEN w.id IS NOT NULL THEN 'cancelled' ELSE (SELECT status FROM target) END AS status,
                   w.kind, w.store_id, w.tenant_id, w.steps, w.current_step, w.payload, w.epoch
            FROM (SELECT 1) one LEFT JOIN waiting w ON true
            """).first else { return nil }
        guard let status = try row.decode("status", as: String?.self).flatMap(JobStatus.init(rawValue:)) else { return nil }
        if status == .cancelled, let hook = cancelHooks[try row.decode("kind", as: String.self)] {
            try await hook(connection, try Self.job(job, from: row, stepAttempt: 0))
        }
        return status
    }

    /// Requests cancellation of every unfinished job of a store except `keep`; used when a delete
    /// supersedes a create. Call in the transaction that enqueues the superseding job.
    @discardableResult
    public func requestCancelActive(store: UUID, except keep: UUID?, reason: String, on connection: PostgresConnection) async throws -> [UUID] {
        let ids = try await connection.query("""
            SELECT id FROM jobs WHERE store_id = \(store) AND status IN ('queued', 'running', 'retrying')
              AND (\(keep)::uuid IS NULL OR id <> \(keep)::uuid)
            ORDER BY created_at
            """).rows.map { try $0.decode("id", as: UUID.self) }
        for id in ids { _ = try await requestCancel(id, reason: reason, on: connection) }
        return ids
    }

    /// A failed job put back in the queue on request (a person's retry), from the step it failed at
    /// (or from the first, when its failure restarted it). The failed step and those after it start
    /// afresh with a full budget of attempts: a step that failed by using them all up would otherwise
    /// give up again at once. The earlier attempts stay in the history, before the "retried on request"
    /// entry. Call in the requester's transaction; dispatch after commit. Returns the step it resumes
    /// at, or nil when the job is not failed (nothing is changed then).
    public func requeueFailed(_ job: UUID, on connection: PostgresConnection) async throws -> Int? {
        guard let row = try await connection.query("""
            UPDATE jobs SET status = 'queued', run_at = now(), error = NULL, finished_at = NULL, worker_id = NULL,
                            lease_expires_at = NULL, cancel_requested = false, updated_at = now()
            WHERE id = \(job) AND status = 'failed'
            RETURNING current_step
            """).first else { return nil }
        let step: Int = try row.decode("current_step")
        try await connection.query("""
            WITH s AS (
                UPDATE job_steps SET status = 'pending', finished_at = NULL, attempts = 0
                WHERE job_id = \(job) AND position >= \(step)
            )
            INSERT INTO job_transitions (job_id, attempt, status, message)
            VALUES (\(job), 0, 'queued', \("retried on request from step \(step + 1)"))
            """)
        return step
    }

    // MARK: - Workers

    public enum ClaimOutcome: Sendable {
        case claimed(ClaimedJob, cancelRequested: Bool)
        /// Running elsewhere, finished or gone: drop the ID.
        case notClaimable
        /// A retry whose time has not come: its own schedule will bring it back.
        case early
        /// Another job for the same store is running: try again shortly.
        case busy
    }

    // One job at a time: what tests use to stand in for a worker (the engine claims in batches).
    func claim(_ job: UUID, worker: String, lease: Double) async throws -> ClaimOutcome {
        try await claim([job], worker: worker, lease: lease)[0]
    }

    /// Claims several jobs in one statement (one commit), each exactly as `job_claim` would alone; the
    /// outcomes come back in the order of `jobs`. A worker's slots that take jobs at about the same
    /// moment share the round trip this way (see `GroupCommit`).
    public func claim(_ jobs: [UUID], worker: String, lease: Double) async throws -> [ClaimOutcome] {
        guard !jobs.isEmpty else { return [] }
        // Claimed in job ID order, so that two batches locking the same rows cannot deadlock.
        let order = jobs.indices.sorted { jobs[$0].uuidString < jobs[$1].uuidString }
        let rows = try await postgres.query("""
            SELECT i.n, c.*,
                   -- For metrics: how long the job has existed, and how long it waited past its due time.
                   extract(epoch FROM now() - j.created_at)::float8 AS age_seconds,
                   greatest(extract(epoch FROM now() - j.run_at), 0)::float8 AS pickup_seconds, j.traceparent
            FROM unnest(\(PostgresTextArray(order.map { jobs[$0].uuidString }))::uuid[]) WITH ORDINALITY AS i(id, n)
            CROSS JOIN LATERAL job_claim(i.id, \(worker), \(lease)) AS c
            LEFT JOIN jobs j ON j.id = i.id
            ORDER BY i.n
            """).rows
        var outcomes = [ClaimOutcome](repeating: .notClaimable, count: jobs.count)
        for row in rows {
            let index = order[try row.decode("n", as: Int.self) - 1]
            outcomes[index] = try Self.claimOutcome(row, job: jobs[index])
        }
        return outcomes
    }

    /// A job as a row of its columns (`kind`, `store_id`, `tenant_id`, `steps`, `current_step`,
    /// `payload`, `epoch`) describes it: a claim's, or a waiting job's for its cancel hook.
    private static func job(_ id: UUID, from row: PostgresRow, stepAttempt: Int) throws -> ClaimedJob {
        ClaimedJob(
            id: id,
            kind: try row.decode("kind"),
            storeID: try row.decode("store_id"),
            tenantID: try row.decode("tenant_id"),
            steps: try row.decode("steps", as: PostgresTextArray.self).elements,
            currentStep: try row.decode("current_step"),
            stepAttempt: stepAttempt,
            payload: try row.decode("payload", as: PostgresJSON.self).text,
            epoch: try row.decode("epoch")
        )
    }

    private static func claimOutcome(_ row: PostgresRow, job: UUID) throws -> ClaimOutcome {
        switch try row.decode("outcome", as: String.self) {
        case "claimed":
            var claimed = try Self.job(job, from: row, stepAttempt: try row.decode("step_attempt", as: Int?.self) ?? 0)
            claimed.ageAtClaim = try row.decode("age_seconds", as: Double?.self) ?? 0
            claimed.pickupDelay = try row.decode("pickup_seconds", as: Double?.self) ?? 0
            claimed.traceparent = try row.decode("traceparent", as: String?.self)
            return .claimed(claimed, cancelRequested: try row.decode("cancel_requested"))
        case "early": return .early
        case "busy": return .busy
        default: return .notClaimable
        }
    }

    /// A step that succeeded, as handed to `recordSuccesses`.
    public struct StepSuccess: Sendable {
        public let job: UUID
        public let epoch: Int
        public let position: Int
        public let durationMs: Double
        /// The job's last step: the job itself succeeds.
        public let isLast: Bool

        public init(job: UUID, epoch: Int, position: Int, durationMs: Double, isLast: Bool) {
            self.job = job
            self.epoch = epoch
            self.position = position
            self.durationMs = durationMs
            self.isLast = isLast
        }
    }

    /// Step `position` succeeded; start step `position + 1`. Returns the next step's attempt number.
    /// For tests standing in for a worker; the engine records successes in batches.
    func advance(_ job: UUID, epoch: Int, worker: String, position: Int, durationMs: Double) async throws -> Int {
        let owned = try await recordSuccesses([StepSuccess(job: job, epoch: epoch, position: position, durationMs: durationMs, isLast: false)], worker: worker)
        guard let attempt = owned[job] else { throw LeaseLost(job: job) }
        return attempt ?? 0
    }

    /// The last step succeeded: the job is done. For tests, as `advance`.
    func complete(_ job: UUID, epoch: Int, worker: String, position: Int, durationMs: Double) async throws {
        let owned = try await recordSuccesses([StepSuccess(job: job, epoch: epoch, position: position, durationMs: durationMs, isLast: true)], worker: worker)
        guard owned[job] != nil else { throw LeaseLost(job: job) }
    }

    /// Records the success of several jobs' steps in one statement (one commit): each job either moves
    /// on to its next step, which starts, or succeeds. Returns, for each job the worker still owned, the
    /// attempt number of the step that started (nil when the job finished); a job missing from the
    /// answer was lost to the reaper and its success was not recorded.
    ///
    /// One statement for many jobs is the engine's group commit: the fixed cost of a statement (a round
    /// trip, executor start-up, a WAL flush) dominates the few rows each job changes, so sharing it
    /// between the jobs that finish a step at about the same moment is what lets a worker record more
    /// transitions per second than it has round trips. Every job still waits for its own row to commit.
    public func recordSuccesses(_ successes: [StepSuccess], worker: String) async throws -> [UUID: Int?] {
        guard !successes.isEmpty else { return [:] }
        // Rows are locked in job ID order, as `renewLeases` does, so two of one worker's statements
        // cannot deadlock on each other.
        let sorted = successes.sorted { $0.job.uuidString < $1.job.uuidString }
        let rows = try await postgres.query("""
            WITH input AS (
                SELECT * FROM unnest(\(PostgresTextArray(sorted.map { $0.job.uuidString }))::uuid[],
                                     \(PostgresTextArray(sorted.map { String($0.epoch) }))::int[],
                                     \(PostgresTextArray(sorted.map { String($0.position) }))::int[],
                                     \(PostgresTextArray(sorted.map { String($0.durationMs) }))::float8[],
                                     \(PostgresTextArray(sorted.map { String($0.isLast) }))::bool[])
                         AS i(job_id, epoch, position, duration_ms, last)
            ), j AS (
                UPDATE jobs SET current_step = input.position + 1, updated_at = now(),
                                status = CASE WHEN input.last THEN 'succeeded' ELSE jobs.status END,
                                finished_at = CASE WHEN input.last THEN now() ELSE jobs.finished_at END,
                                worker_id = CASE WHEN input.last THEN NULL ELSE jobs.worker_id END,
                                lease_expires_at = CASE WHEN input.last THEN NULL ELSE jobs.lease_expires_at END,
                                error = CASE WHEN input.last THEN NULL ELSE jobs.error END
                FROM input
                WHERE jobs.id = input.job_id AND jobs.epoch = input.epoch AND jobs.status = 'running'
                  AND jobs.current_step = input.position
                RETURNING jobs.id, jobs.epoch, input.position, input.duration_ms, input.last,
                          extract(epoch FROM (now() - jobs.created_at)) * 1000 AS total_ms
            ), done AS (
                UPDATE job_steps SET status = 'succeeded', finished_at = clock_timestamp()
                FROM j WHERE job_steps.job_id = j.id AND job_steps.position = j.position
                RETURNING job_steps.job_id, job_steps.name, job_steps.position, job_steps.attempts, job_steps.message, j.duration_ms, j.epoch
            ), started AS (
                UPDATE job_steps SET status = 'running', attempts = attempts + 1, started_at = clock_timestamp(),
                                     finished_at = NULL, message = NULL
                FROM j WHERE NOT j.last AND job_steps.job_id = j.id AND job_steps.position = j.position + 1
                RETURNING job_steps.job_id, job_steps.name, job_steps.position, job_steps.attempts, j.epoch
            ), t AS (
                -- One INSERT in (job, finish-before-start) order: the history's order (by id) is a job's
                -- step finishing, then its next step (or the job) starting or succeeding.
                INSERT INTO job_transitions (job_id, step, position, attempt, status, worker_id, duration_ms, message, epoch)
                SELECT job_id, step, position, attempt, status, \(worker)::text, duration_ms, message, epoch FROM (
                    SELECT job_id, name AS step, position, attempts AS attempt, 'succeeded'::text AS status,
                           duration_ms, message, epoch, 0 AS ord FROM done
                    UNION ALL
                    SELECT job_id, name, position, attempts, 'running'::text, NULL::float8, NULL::text, epoch, 1 FROM started
                    UNION ALL
                    SELECT id, NULL::text, NULL::int, 0, 'succeeded'::text, total_ms::float8, NULL::text, epoch, 1 FROM j WHERE last
                ) AS written ORDER BY job_id, ord
            )
            SELECT j.id, started.attempts FROM j LEFT JOIN started ON started.job_id = j.id
            """).rows
        var owned: [UUID: Int?] = [:]
        for row in rows { owned[try row.decode("id", as: UUID.self)] = try row.decode("attempts", as: Int?.self) }
        return owned
    }

    /// A retryable failure: the step waits `delay` seconds; the job is released until then.
    /// `cause`: the failure's kind (`FailureClassifier.cause`), recorded on the attempt's transition.
    public func scheduleRetry(_ job: UUID, epoch: Int, worker: String, position: Int, durationMs: Double, message: String, delay: Double,
                              cause: String? = nil) async throws {
        let row = try await postgres.query("""
            WITH j AS (
                UPDATE jobs SET status = 'retrying', run_at = now() + make_interval(secs => \(delay)),
                                worker_id = NULL, lease_expires_at = NULL, updated_at = now()
                WHERE id = \(job) AND epoch = \(epoch) AND status = 'running' AND current_step = \(position) RETURNING id
            ), s AS (
                UPDATE job_steps SET status = 'retrying', finished_at = clock_timestamp(), message = \(message)
                WHERE job_id = (SELECT id FROM j) AND position = \(position) RETURNING name, attempts
            ), t AS (
                INSERT INTO job_transitions (job_id, step, position, attempt, status, worker_id, duration_ms, message, epoch, cause)
                SELECT \(job), name, \(position), attempts, 'retrying', \(worker), \(durationMs), \(message), \(epoch), \(cause) FROM s
            )
            SELECT count(*) AS owned FROM j
            """).first
        guard try row?.decode("owned", as: Int.self) == 1 else { throw LeaseLost(job: job) }
    }

    /// Ends the job `failed` (or `cancelled`) at step `position`, running the definition's hook in the same
    /// transaction. `restart` makes a later retry request start again from the first step (its earlier
    /// steps' work was undone, say a namespace deleted by the failure hook).
    public func finish(
        _ claimed: ClaimedJob, worker: String, position: Int, durationMs: Double, status: JobStatus, message: String,
        cause: String? = nil, restart: Bool = false, hook: (@Sendable (PostgresConnection) async throws -> Void)?
    ) async throws {
        precondition(status == .failed || status == .cancelled)
        let stepStatus: StepStatus = status == .failed ? .failed : .cancelled
        try await postgres.transaction { connection in
            let row = try await connection.query("""
                WITH j AS (
                    UPDATE jobs SET status = \(status.rawValue), finished_at = now(), worker_id = NULL, lease_expires_at = NULL,
                                    error = \(message), updated_at = now(),
                                    current_step = CASE WHEN \(restart) THEN 0 ELSE current_step END
                    WHERE id = \(claimed.id) AND epoch = \(claimed.epoch) AND status = 'running'
                    RETURNING id, extract(epoch FROM (now() - created_at)) * 1000 AS total_ms
                ), s AS (
                    UPDATE job_steps SET status = \(stepStatus.rawValue), finished_at = clock_timestamp(), message = \(message)
                    WHERE job_id = (SELECT id FROM j) AND position = \(position) RETURNING name, attempts
                ), rest AS (
                    UPDATE job_steps SET status = 'cancelled'
                    WHERE job_id = (SELECT id FROM j) AND position > \(position) AND status = 'pending'
                ), t AS (
                    INSERT INTO job_transitions (job_id, step, position, attempt, status, worker_id, duration_ms, message, epoch, cause)
                    SELECT \(claimed.id)::uuid, name, \(position)::int, attempts, \(stepStatus.rawValue)::text, \(worker)::text, \(durationMs)::float8, \(message)::text, \(claimed.epoch)::int, \(cause)::text FROM s
                    UNION ALL
                    SELECT id, NULL::text, NULL::int, 0, \(status.rawValue)::text, \(worker)::text, total_ms::float8, \(message)::text, \(claimed.epoch)::int, NULL::text FROM j
                )
                SELECT count(*) AS owned FROM j
                """).first
            guard try row?.decode("owned", as: Int.self) == 1 else { throw LeaseLost(job: claimed.id) }
            try await hook?(connection)
        }
    }

    /// Hands a job back without counting against it: the worker is shutting down. Another worker
    /// continues at the same step at once.
    public func release(_ job: UUID, epoch: Int, worker: String, position: Int, durationMs: Double, message: String) async throws {
        try await postgres.query("""
            WITH j AS (
                UPDATE jobs SET status = 'queued', run_at = now(), worker_id = NULL, lease_expires_at = NULL, updated_at = now()
                WHERE id = \(job) AND epoch = \(epoch) AND status = 'running' RETURNING id
            ), s AS (
                UPDATE job_steps SET status = 'retrying', attempts = greatest(attempts - 1, 0), finished_at = clock_timestamp(), message = \(message)
                WHERE job_id = (SELECT id FROM j) AND position = \(position) AND status = 'running' RETURNING name, attempts
            )
            INSERT INTO job_transitions (job_id, step, position, attempt, status, worker_id, duration_ms, message, epoch)
            SELECT \(job), name, \(position), attempts + 1, 'interrupted', \(worker), \(durationMs), \(message), \(epoch) FROM s
            """)
    }

    public func reportProgress(job: UUID, epoch: Int, position: Int, message: String) async throws {
        try await postgres.query("""
            UPDATE job_steps SET message = \(message)
            WHERE job_id = \(job) AND position = \(position) AND status = 'running'
              AND EXISTS (SELECT 1 FROM jobs WHERE id = \(job) AND epoch = \(epoch) AND status = 'running')
            """)
    }

    /// Runs `body` in a transaction that first locks the job and checks that the claim still owns it:
    /// a step's own database writes (say, marking its store ready) commit only under a live claim, and
    /// the job's next transition waits for them. Throws `LeaseLost` otherwise, writing nothing.
    public func fenced<T: Sendable>(
        _ job: UUID, epoch: Int, _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await postgres.transaction { connection in
            guard try await connection.query("""
                SELECT 1 FROM jobs WHERE id = \(job) AND epoch = \(epoch) AND status = 'running' FOR NO KEY UPDATE
                """).first != nil else { throw LeaseLost(job: job) }
            return try await body(connection)
        }
    }

    /// Extends the leases of a worker's running jobs. Returns, per job it still owns, whether a
    /// cancellation was requested; jobs missing from the answer were lost and must stop.
    public func renewLeases(_ claims: [Claim], lease: Double) async throws -> [Claim: Bool] {
        guard !claims.isEmpty else { return [:] }
        let rows = try await postgres.query("""
            UPDATE jobs SET lease_expires_at = now() + make_interval(secs => \(lease))
            FROM unnest(\(PostgresTextArray(claims.map { $0.job.uuidString.lowercased() }))::uuid[],
                        \(PostgresTextArray(claims.map { String($0.epoch) }))::int[]) AS c(job_id, epoch)
            WHERE jobs.id = c.job_id AND jobs.epoch = c.epoch AND jobs.status = 'running'
            RETURNING jobs.id, jobs.epoch, jobs.cancel_requested
            """).rows
        var owned: [Claim: Bool] = [:]
        for row in rows {
            owned[Claim(job: try row.decode("id"), epoch: try row.decode("epoch"))] = try row.decode("cancel_requested", as: Bool.self)
        }
        return owned
    }

    /// One claim of one job: the job and the epoch `job_claim` gave it.
    public struct Claim: Hashable, Sendable, CustomStringConvertible {
        public let job: UUID
        public let epoch: Int
        public init(job: UUID, epoch: Int) {
            self.job = job
            self.epoch = epoch
        }
        public var description: String { "\(job.uuidString.lowercased())@\(epoch)" }
    }

    /// Where a job stands, for deciding whether a write whose reply was lost did commit.
    public struct Position: Sendable, Equatable {
        public let status: JobStatus
        public let epoch: Int
        public let currentStep: Int
        public let stepAttempt: Int?
    }

    public func position(_ job: UUID) async throws -> Position? {
        guard let row = try await postgres.query("""
            SELECT j.status, j.epoch, j.current_step, s.attempts
            FROM jobs j LEFT JOIN job_steps s ON s.job_id = j.id AND s.position = j.current_step
            WHERE j.id = \(job)
            """).first else { return nil }
        return Position(
            status: JobStatus(rawValue: try row.decode("status")) ?? .queued, epoch: try row.decode("epoch"),
            currentStep: try row.decode("current_step"), stepAttempt: try row.decode("attempts")
        )
    }

    // MARK: - Maintenance

    /// Returns jobs whose lease expired to the queue, recording that their step's attempt was lost.
    public func reapExpiredLeases(limit: Int = 200) async throws -> [UUID] {
        let rows = try await postgres.query("""
            WITH expired AS (
                SELECT id, worker_id, current_step, epoch FROM jobs
                WHERE status = 'running' AND lease_expires_at < now()
                ORDER BY lease_expires_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            ), j AS (
                UPDATE jobs SET status = 'queued', worker_id = NULL, lease_expires_at = NULL, run_at = now(), updated_at = now()
                FROM expired WHERE jobs.id = expired.id
                RETURNING jobs.id, expired.worker_id AS lost_worker, jobs.current_step, expired.epoch
            ), s AS (
                UPDATE job_steps
                SET status = 'retrying', finished_at = clock_timestamp(),
                    message = 'worker ' || coalesce(j.lost_worker, '?') || ' stopped renewing its lease (crashed or cut off); the step will run again'
                FROM j WHERE job_steps.job_id = j.id AND job_steps.position = j.current_step AND job_steps.status = 'running'
                RETURNING job_steps.job_id, job_steps.name, job_steps.position, job_steps.attempts, job_steps.message, j.lost_worker, j.epoch
            ), t AS (
                INSERT INTO job_transitions (job_id, step, position, attempt, status, worker_id, message, epoch)
                SELECT job_id, name, position, attempts, 'retrying', lost_worker, message, epoch FROM s
            )
            SELECT id FROM j
            """).rows
        return try rows.map { try $0.decode("id", as: UUID.self) }
    }

    /// Jobs that should be in Redis by now: waiting and due for at least `grace` seconds.
    /// `begun` tells jobs that already ran a step (interrupted or retrying) from ones never started;
    /// `overdue` is how long past due each is, in seconds.
    public func overdueJobs(grace: Double, limit: Int = 1000) async throws -> [(id: UUID, begun: Bool, overdue: Double)] {
        try await postgres.query("""
            SELECT id, started_at IS NOT NULL AS begun, extract(epoch FROM now() - run_at)::float8 AS overdue FROM jobs j
            WHERE status IN ('queued', 'retrying') AND run_at <= now() - make_interval(secs => \(grace))
              -- Jobs waiting behind another job of their store are not lost, only waiting (job_claim's
              -- 'busy' rule); a thousand of them must not crowd a lost job out of the LIMIT.
              AND NOT EXISTS (SELECT 1 FROM jobs o WHERE j.store_id IS NOT NULL AND o.store_id = j.store_id AND o.id <> j.id
                                AND (o.status = 'running' OR (o.status IN ('queued', 'retrying') AND o.created_at < j.created_at)))
            ORDER BY run_at LIMIT \(limit)
            """).rows.map { (try $0.decode("id", as: UUID.self), try $0.decode("begun", as: Bool.self), try $0.decode("overdue", as: Double.self)) }
    }

    /// The oldest waiting job of a store, if any: dispatched when the store's running job ends.
    public func nextWaitingJob(store: UUID) async throws -> UUID? {
        try await postgres.query("""
            SELECT id FROM jobs WHERE store_id = \(store) AND status IN ('queued', 'retrying') AND run_at <= now()
            ORDER BY created_at LIMIT 1
            """).first?.decode("id", as: UUID.self)
    }

    // MARK: - Readers

    public func snapshot(_ job: UUID, includeTransitions: Bool = false) async throws -> JobSnapshot? {
        guard var snapshot = try await snapshots([job])[job] else { return nil }
        if includeTransitions {
            snapshot.transitions = try await postgres.query("""
                SELECT id, step, position, attempt, status, worker_id, at, duration_ms, message
                FROM job_transitions WHERE job_id = \(job) ORDER BY id
                """).rows.map { row in
                TransitionSnapshot(
                    id: try row.decode("id"), step: try row.decode("step"), position: try row.decode("position"),
                    attempt: try row.decode("attempt"), status: try row.decode("status"),
                    workerID: try row.decode("worker_id"), at: try row.decode("at"),
                    durationMs: try row.decode("duration_ms"), message: try row.decode("message")
                )
            }
        }
        return snapshot
    }

    /// Several jobs with their steps, in one query (one row per step; a job and its steps are read
    /// from the same snapshot, so they always agree). Missing jobs are absent from the answer.
    ///
    /// The steps are read per job through their primary key whatever the statistics say: as a plain
    /// join, the prepared statement's generic plan, made while the tables were young and unanalysed,
    /// hashed a sequential scan of every step ever written on each read (OFFSET 0 keeps the planner
    /// from flattening the lateral subquery back into that join).
    public func snapshots(_ jobs: [UUID], on connection: PostgresConnection? = nil) async throws -> [UUID: JobSnapshot] {
        guard !jobs.isEmpty else { return [:] }
        // On a caller's connection, inside its transaction, a job it just inserted is visible.
        let query: PostgresQuery = """
            SELECT j.id, j.kind, j.store_id, j.tenant_id, j.status, j.current_step, j.worker_id, j.cancel_requested,
                   j.error, j.created_at, j.started_at, j.finished_at, j.updated_at,
                   s.position, s.name, s.status AS step_status, s.attempts, s.started_at AS step_started_at,
                   s.finished_at AS step_finished_at, s.message,
                   extract(epoch FROM (coalesce(s.finished_at, clock_timestamp()) - s.started_at)) * 1000 AS duration_ms
            FROM jobs j
            LEFT JOIN LATERAL (SELECT * FROM job_steps WHERE job_id = j.id OFFSET 0) s ON true
            WHERE j.id = ANY(\(PostgresTextArray(jobs.map { $0.uuidString }))::uuid[])
            ORDER BY j.id, s.position
            """
        let rows = if let connection { try await connection.query(query).rows } else { try await postgres.query(query).rows }
        var steps: [UUID: [StepSnapshot]] = [:]
        var heads: [UUID: PostgresRow] = [:]
        for row in rows {
            let id: UUID = try row.decode("id")
            if heads[id] == nil { heads[id] = row }
            guard let position = try row.decode("position", as: Int?.self) else { continue }
            steps[id, default: []].append(StepSnapshot(
                position: position, name: try row.decode("name"),
                status: StepStatus(rawValue: try row.decode("step_status")) ?? .pending,
                attempts: try row.decode("attempts"), startedAt: try row.decode("step_started_at"),
                finishedAt: try row.decode("step_finished_at"), durationMs: try row.decode("duration_ms"),
                message: try row.decode("message")
            ))
        }
        var snapshots: [UUID: JobSnapshot] = [:]
        for (id, row) in heads {
            snapshots[id] = JobSnapshot(
                id: id, kind: try row.decode("kind"), storeID: try row.decode("store_id"), tenantID: try row.decode("tenant_id"),
                status: JobStatus(rawValue: try row.decode("status")) ?? .queued, currentStep: try row.decode("current_step"),
                workerID: try row.decode("worker_id"), cancelRequested: try row.decode("cancel_requested"),
                error: try row.decode("error"), createdAt: try row.decode("created_at"), startedAt: try row.decode("started_at"),
                finishedAt: try row.decode("finished_at"), updatedAt: try row.decode("updated_at"), steps: steps[id] ?? [],
                transitions: nil
            )
        }
        return snapshots
    }
}

import Foundation
import Jobs
import Postgres

/// Synthetic job kinds for exercising the engine: in tests (crashes, retries, timeouts, cancellation)
/// and in the throughput benchmark. Every run of a step is recorded in `lab_step_runs` (job, step,
/// attempt, claim epoch, worker, start, end, outcome), outside the engine's own tables and its fence,
/// so tests can check what really ran, how often, and whether runs overlapped.
public enum SyntheticJobs {
    /// Five steps that do nothing: the engine's own overhead.
    public static let noopKind = "lab.noop"
    /// Three steps ("one", "two", "three") whose behaviour the payload scripts.
    public static let scriptedKind = "lab.scripted"
    public static let scriptedSteps = ["one", "two", "three"]

    /// What a scripted step does on each attempt.
    public struct Behaviour: Codable, Sendable {
        /// Sleep this long (cancellable), in milliseconds.
        public var sleepMs: Int?
        /// Sleep only on attempts up to this number (default: every attempt).
        public var sleepAttempts: Int?
        /// Sleep only when run by one of these workers (default: any). A step handed back by one worker
        /// then finishes at once on the next, far from its timeout however loaded the machine.
        public var sleepWorkers: [String]?
        /// Fail retryably while the attempt number is at most this.
        public var failTimes: Int?
        /// Fail permanently.
        public var permanent: Bool?
        /// Minimum retry delay to ask for (like a Retry-After), in seconds.
        public var retryAfter: Double?
        /// Sleep through cancellation, as a call stuck in a blocking library does.
        public var ignoreCancellation: Bool?

        public init(sleepMs: Int? = nil, sleepAttempts: Int? = nil, sleepWorkers: [String]? = nil, failTimes: Int? = nil, permanent: Bool? = nil,
                    retryAfter: Double? = nil, ignoreCancellation: Bool? = nil) {
            self.ignoreCancellation = ignoreCancellation
            self.sleepWorkers = sleepWorkers
            self.sleepMs = sleepMs
            self.sleepAttempts = sleepAttempts
            self.failTimes = failTimes
            self.permanent = permanent
            self.retryAfter = retryAfter
        }
    }

    public struct Script: Codable, Sendable {
        public var steps: [String: Behaviour]
        public init(steps: [String: Behaviour]) { self.steps = steps }

        public var json: String {
            String(decoding: try! JSONEncoder().encode(self), as: UTF8.self)
        }
    }

    public static func prepare(_ postgres: PostgresPool) async throws {
        try await postgres.withConnection { connection in
            try await connection.runScript("""
                CREATE TABLE IF NOT EXISTS lab_step_runs (
                    id bigserial PRIMARY KEY, job_id uuid NOT NULL, step text NOT NULL, attempt int NOT NULL,
                    worker_id text NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz, outcome text
                );
                -- The claim each execution ran under: the history checker ties every recorded outcome
                -- to an execution of the claim that recorded it (scripts/check-history.py).
                ALTER TABLE lab_step_runs ADD COLUMN IF NOT EXISTS epoch int
                """)
        }
    }

    /// The definitions, with step timeouts and retry policies short enough for tests.
    public static func definitions(postgres: PostgresPool, workerID: String, recordRuns: Bool = true) -> [JobDefinition] {
        let noop = JobDefinition(kind: noopKind, steps: (1...5).map { index in
            StepDefinition("step\(index)", timeout: 5, retry: .standard) { _ in }
        })
        let retry = RetryPolicy(maxAttempts: 3, initialDelay: 0.2, multiplier: 2, maxDelay: 1)
        let scripted = JobDefinition(kind: scriptedKind, steps: scriptedSteps.map { name in
            StepDefinition(name, timeout: 2, retry: retry) { context in
                let script = try context.payload(as: Script.self)
                let behaviour = script.steps[name] ?? Behaviour()
                var runID: Int?
                if recordRuns {
                    runID = try await postgres.query("""
                        INSERT INTO lab_step_runs (job_id, step, attempt, worker_id, started_at, epoch)
                        VALUES (\(context.job.id), \(name), \(context.attempt), \(workerID), clock_timestamp(), \(context.job.epoch)) RETURNING id
                        """).first?.decode("id", as: Int.self)
                }
                func finish(_ outcome: String) async {
                    guard let runID else { return }
                    _ = try? await postgres.query("UPDATE lab_step_runs SET finished_at = clock_timestamp(), outcome = \(outcome) WHERE id = \(runID)")
                }
                do {
                    if let sleep = behaviour.sleepMs, context.attempt <= (behaviour.sleepAttempts ?? Int.max),
                       behaviour.sleepWorkers?.contains(workerID) ?? true {
                        if behaviour.ignoreCancellation == true {
                            // An unstructured task: the step's cancellation does not reach it.
                            await Task { try? await Task.sleep(for: .milliseconds(sleep)) }.value
                        } else {
                            try await Task.sleep(for: .milliseconds(sleep))
                        }
                    }
                    if behaviour.permanent == true { throw StepFailure.permanent("scripted permanent failure of \(name)") }
                    if let times = behaviour.failTimes, context.attempt <= times {
                        throw StepFailure.retryable("scripted failure \(context.attempt) of \(times) in \(name)", after: behaviour.retryAfter)
                    }
                } catch {
                    // Recorded even when cancelled: the row says the attempt was interrupted.
                    await Task { await finish(error is CancellationError ? "interrupted" : "failed") }.value
                    throw error
                }
                await finish("succeeded")
            }
        })
        return [noop, scripted]
    }
}

import Foundation
import Jobs
import Platform
import Postgres
import ServiceRuntime

/// A fleet rollout's job. Its `waves` step works from what Postgres holds (`rollout_stores`), never
/// from memory, so that any worker can pick it up after a crash and carry on: each pass settles the
/// stores whose update jobs ended, halts when a finished wave failed past its threshold, and otherwise
/// starts updates in the current wave up to the parallelism allowed. Every store's change is an
/// ordinary update job, with its own rollback; the rollout only decides when to start the next.
extension Provisioner {
    func rolloutDefinition() -> JobDefinition {
        JobDefinition(
            kind: StoreJobKinds.rolloutKind,
            steps: [
                // A rollout of hundreds of stores takes hours; the lease, not this limit, is what
                // notices a dead worker.
                StepDefinition("waves", timeout: 7 * 86_400, retry: RetryPolicy(maxAttempts: 10, initialDelay: 2, maxDelay: 60)) { context in
                    try await runWaves(context)
                },
                StepDefinition("finalize", timeout: 30) { context in
                    let id = try rolloutID(context)
                    try await context.fenced { connection in
                        _ = try await connection.query("""
                            UPDATE rollouts SET status = 'completed', reason = NULL, finished_at = now(), updated_at = now()
                            WHERE id = \(id) AND status = 'running'
                            """)
                    }
                },
            ],
            onFailed: { connection, job, message in
                // Halted (or stopped by an error): resumable with POST /api/rollouts/:id/resume.
                try await connection.query("""
                    UPDATE rollouts SET status = 'halted', reason = \(message), updated_at = now()
                    WHERE job_id = \(job.id) AND status = 'running'
                    """)
            },
            onCancelled: StoreJobHooks.rolloutCancelled
        )
    }

    struct RolloutPayload: Codable {
        var rollout: UUID
    }

    func rolloutID(_ context: StepContext) throws -> UUID {
        try context.payload(as: RolloutPayload.self).rollout
    }

    struct RolloutStoreRow {
        let store: UUID
        let name: String
        let wave: Int
        let status: String
        let job: UUID?
        let message: String?
    }

    /// How often a running rollout looks at its stores' jobs.
    static let rolloutPolls = PollSchedule(first: 0.5, growth: 1.5, longest: 2)

    func runWaves(_ context: StepContext) async throws {
        guard let queue else { throw StepFailure.permanent("this worker was started without a job queue and cannot start update jobs") }
        let id = try rolloutID(context)
        var looks = 0
        var lastReport = ""
        while true {
            try context.checkpoint()
            looks += 1
            guard let rollout = try await postgres.query("SELECT target, strategy, accepted_through, halt_requested FROM rollouts WHERE id = \(id)").first else {
                throw StepFailure.permanent("rollout \(id.lower) does not exist")
            }
            if try rollout.decode("halt_requested", as: Bool.self) {
                try await settleEndedUpdates(id, context: context)
                throw StepFailure.permanent("halted by an operator; no store not yet started will be until the rollout is resumed (updates already running finish on their own)")
            }
            let target = try JSONDecoder().decode(RolloutTarget.self, from: Data(try rollout.decode("target", as: String.self).utf8))
            let strategy = try JSONDecoder().decode(RolloutStrategy.self, from: Data(try rollout.decode("strategy", as: String.self).utf8))
            let acceptedThrough: Int = try rollout.decode("accepted_through")

            try await settleEndedUpdates(id, context: context)
            let rows = try await postgres.query("""
                SELECT r.store_id, s.name, r.wave, r.status, r.job_id, r.message
                FROM rollout_stores r JOIN stores s ON s.id = r.store_id
                WHERE r.rollout_id = \(id) ORDER BY r.wave, r.position
                """).rows.map { row in
                RolloutStoreRow(store: try row.decode("store_id"), name: try row.decode("name"), wave: try row.decode("wave"),
                                status: try row.decode("status"), job: try row.decode("job_id"), message: try row.decode("message"))
            }
            let waves = Dictionary(grouping: rows, by: \.wave)
            let order = waves.keys.sorted()
            // The first wave with a store not settled is the current one; every wave before it is done.
            guard let current = order.first(where: { wave in waves[wave]!.contains { ["pending", "updating"].contains($0.status) } }) else {
                try Self.checkThreshold(order.last.map { waves[$0]! } ?? [], strategy: strategy, acceptedThrough: acceptedThrough, of: order.count)
                await context.report("every wave done: \(Self.tally(rows))")
                return
            }
            for wave in order where wave < current {
                try Self.checkThreshold(waves[wave]!, strategy: strategy, acceptedThrough: acceptedThrough, of: order.count)
            }
            let inWave = waves[current]!
            let updating = inWave.filter { $0.status == "updating" }.count
            let room = max(0, strategy.maxParallel - updating)
            for store in inWave.filter({ $0.status == "pending" }).prefix(room) {
                try context.checkpoint()
                try await startUpdate(store.store, rollout: id, target: target, queue: queue, context: context)
            }
            let position = (order.firstIndex(of: current) ?? 0) + 1
            let report = "wave \(position) of \(order.count)\(current == 0 ? " (canary)" : ""): \(Self.tally(inWave)); fleet: \(Self.tally(rows))"
            if report != lastReport {
                await context.report(report)
                lastReport = report
            }
            try await Self.rolloutPolls.sleep(after: looks)
        }
    }

    /// "3 updated, 1 updating, 6 pending" (only the counts there are).
    static func tally(_ rows: [RolloutStoreRow]) -> String {
        let counts = Dictionary(grouping: rows, by: \.status).mapValues(\.count)
        return ["updated", "unchanged", "updating", "pending", "rolled-back", "failed", "skipped"]
            .compactMap { status in counts[status].map { "\($0) \(status)" } }.joined(separator: ", ")
    }

    /// Halts (a permanent failure: the job ends, the rollout shows `halted`) when a finished wave's
    /// failures pass the threshold, unless an operator resumed past that wave.
    static func checkThreshold(_ wave: [RolloutStoreRow], strategy: RolloutStrategy, acceptedThrough: Int, of total: Int) throws {
        guard let number = wave.first?.wave, number > acceptedThrough else { return }
        let failed = wave.filter { ["rolled-back", "failed"].contains($0.status) }
        guard failed.count > strategy.failureThreshold else { return }
        let which = failed.prefix(5).map { "\($0.name) (\($0.status): \($0.message ?? "no reason recorded"))" }.joined(separator: "; ")
        throw StepFailure.permanent(
            "halted after \(number == 0 ? "the canary wave" : "wave \(number)"): \(failed.count) of \(wave.count) stores did not take the new version "
                + "(threshold \(strategy.failureThreshold)): \(which)\(failed.count > 5 ? "; …" : ""). Stores rolled back run their previous revision; "
                + "no later wave was started. Resume the rollout to go on past this wave, or cancel it")
    }

    /// Records the outcome of every store whose update job has ended.
    func settleEndedUpdates(_ rollout: UUID, context: StepContext) async throws {
        try await context.fenced { connection in
            _ = try await connection.query("""
                UPDATE rollout_stores r
                SET status = CASE
                        WHEN j.status = 'succeeded' THEN 'updated'
                        WHEN v.outcome = 'rolled-back' THEN 'rolled-back'
                        WHEN j.status = 'cancelled' THEN 'skipped'
                        ELSE 'failed' END,
                    message = CASE WHEN j.status = 'succeeded' THEN NULL ELSE coalesce(v.rollback_reason, j.error) END,
                    updated_at = now()
                FROM jobs j
                LEFT JOIN store_revisions v ON v.job_id = j.id
                WHERE r.rollout_id = \(rollout) AND r.status = 'updating' AND j.id = r.job_id
                  AND j.status IN ('succeeded', 'failed', 'cancelled')
                """)
        }
    }

    /// Asks for the store's new revision and records its update job, under this rollout's claim; a
    /// store that is not ready at its turn (suspended, busy, deleted) is skipped with the reason.
    func startUpdate(_ store: UUID, rollout: UUID, target: RolloutTarget, queue: JobQueue, context: StepContext) async throws {
        let asker = StoreUpdateRequest.Asker(tenantID: context.job.tenantID, tokenID: nil)
        try await queue.enqueue(fencedBy: context) { connection, enqueuer in
            guard let row = try await connection.query("SELECT * FROM stores WHERE id = \(store) FOR UPDATE").first else { return }
            let (status, job, revision, message): (String, UUID?, Int?, String?)
            do {
                switch try await StoreUpdateRequest.enqueue(row, target: target.applied(to: try StoreUpdateRequest.liveSpec(row)), asker: asker,
                                                             on: connection, enqueuer: enqueuer) {
                case .enqueued(let id, let number): (status, job, revision, message) = ("updating", id, number, nil)
                case .unchanged: (status, job, revision, message) = ("unchanged", nil, nil, "it ran the target already")
                }
            } catch let refusal as StoreUpdateRequest.Refusal {
                (status, job, revision, message) = ("skipped", nil, nil, refusal.message)
            }
            _ = try await connection.query("""
                UPDATE rollout_stores SET status = \(status), job_id = \(job), revision = \(revision), message = \(message), updated_at = now()
                WHERE rollout_id = \(rollout) AND store_id = \(store) AND status = 'pending'
                """)
        }
    }
}

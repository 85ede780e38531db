import Foundation
import Jobs
import Postgres

/// Asking for a new revision of a store: what PATCH /api/stores/:id and a rollout's waves both do, in
/// the caller's transaction. The store's row is locked; only a ready store with no unfinished job is
/// changed. The revision, the store's `updating` status and the update job commit together.
public enum StoreUpdateRequest {
    public enum Outcome: Sendable {
        /// The job to dispatch after commit, and the revision it applies.
        case enqueued(job: UUID, revision: Int)
        /// The store runs `target` already: nothing was written.
        case unchanged
    }

    public struct Refusal: Error, Sendable {
        /// `store-busy`, `not-found`.
        public let slug: String
        public let message: String
    }

    /// Who asked, for the revision's record.
    public struct Asker: Sendable {
        public let tenantID: UUID?
        public let tokenID: UUID?
        public init(tenantID: UUID?, tokenID: UUID?) {
            self.tenantID = tenantID
            self.tokenID = tokenID
        }
    }

    /// The store's live spec, read from its row.
    public static func liveSpec(_ row: PostgresRow) throws -> StoreSpec {
        StoreSpec(plan: try row.decode("plan"), chartVersion: try row.decode("chart_version"), appVersion: try row.decode("app_version"))
    }

    /// Refuses (`Refusal`) a store that is not ready or has a job still queued or running.
    public static func requireIdle(_ row: PostgresRow, on connection: PostgresConnection) async throws {
        let id: UUID = try row.decode("id")
        let status: String = try row.decode("status")
        guard status == "ready" else {
            throw Refusal(slug: "store-busy", message: "only a ready store can be updated; this one is \(status)"
                + (status == "updating" ? " (wait for its update job, or see GET /api/stores/\(id.lower)/revisions)" : ""))
        }
        if let busy = try await connection.query("""
            SELECT id, kind FROM jobs WHERE store_id = \(id) AND status IN ('queued', 'running', 'retrying') LIMIT 1
            """).first {
            throw Refusal(slug: "store-busy", message: "job \(try busy.decode("id", as: UUID.self).lower) (\(try busy.decode("kind", as: String.self))) of this store has not ended; try again when it has")
        }
    }

    /// Records revision N+1 of the store `row` (read `FOR UPDATE` by the caller) and inserts its
    /// update job; or nothing, when `target` is the live spec.
    public static func enqueue(_ row: PostgresRow, target: StoreSpec, asker: Asker, on connection: PostgresConnection,
                               enqueuer: JobQueue.Enqueuer) async throws -> Outcome {
        try await requireIdle(row, on: connection)
        let id: UUID = try row.decode("id")
        let live = try liveSpec(row)
        guard target != live else { return .unchanged }
        let number = try await connection.query("""
            SELECT coalesce(max(revision), 0) + 1 AS next FROM store_revisions WHERE store_id = \(id)
            """).first!.decode("next", as: Int.self)
        let job = NewJob(kind: StoreJobKinds.updateKind, steps: StoreJobKinds.updateSteps, storeID: id, tenantID: try row.decode("tenant_id"),
                         payload: #"{"revision":\#(number)}"#)
        try await connection.query("""
            INSERT INTO store_revisions (store_id, revision, plan, chart_version, app_version, previous, job_id, tenant_id, token_id, outcome)
            VALUES (\(id), \(number), \(target.plan), \(target.chartVersion), \(target.appVersion),
                    jsonb_build_object('plan', \(live.plan)::text, 'chartVersion', \(live.chartVersion)::text, 'appVersion', \(live.appVersion)::text),
                    \(job.id), \(asker.tenantID), \(asker.tokenID), 'pending')
            """)
        try await connection.query("UPDATE stores SET status = 'updating', last_error = NULL, updated_at = now() WHERE id = \(id)")
        try await enqueuer.insert(job, on: connection)
        return .enqueued(job: job.id, revision: number)
    }

    /// "plan medium, chart 0.2.0, app 6.9.0", the chart's own versions as "default".
    public static func describe(_ spec: StoreSpec) -> String {
        "plan \(spec.plan), chart \(spec.chartVersion ?? "default"), app \(spec.appVersion ?? "default")"
    }
}

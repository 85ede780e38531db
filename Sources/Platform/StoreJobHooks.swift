import Foundation
import Jobs
import Postgres

/// What a store job kind's cancellation means for the platform's own tables. One table for the
/// worker (a running job stopped at a checkpoint: `JobDefinition.onCancelled`) and the gateway (a
/// waiting job cancelled in its transaction: `JobStore.cancelHooks`), so the bookkeeping is the same
/// whoever cancels, and neither side repeats it by hand.
public enum StoreJobHooks {
    public static let onCancelled: [String: JobStore.CancelHook] = [
        StoreJobKinds.updateKind: updateCancelled,
        StoreJobKinds.rolloutKind: rolloutCancelled,
    ]

    /// An update superseded by a delete (which has set the store's status already): its revision is
    /// recorded as cancelled, not left pending.
    @Sendable public static func updateCancelled(_ connection: PostgresConnection, _ job: ClaimedJob) async throws {
        struct Payload: Decodable { var revision: Int }
        let revision = try JSONDecoder().decode(Payload.self, from: Data(job.payload.utf8)).revision
        try await connection.query("""
            UPDATE store_revisions SET outcome = 'cancelled', finished_at = now()
            WHERE store_id = \(job.storeID) AND revision = \(revision) AND outcome = 'pending'
            """)
    }

    /// A rollout's job cancelled: the rollout ends cancelled, and stores whose turn had not come are skipped.
    @Sendable public static func rolloutCancelled(_ connection: PostgresConnection, _ job: ClaimedJob) async throws {
        guard let rollout = try await connection.query("SELECT id FROM rollouts WHERE job_id = \(job.id)").first?
            .decode("id", as: UUID.self) else { return }
        try await markRolloutCancelled(rollout, on: connection)
    }

    /// Ends a rollout cancelled (unless it completed) and skips its stores not yet started.
    public static func markRolloutCancelled(_ rollout: UUID, on connection: PostgresConnection) async throws {
        try await connection.query("""
            UPDATE rollouts SET status = 'cancelled', finished_at = now(), updated_at = now() WHERE id = \(rollout) AND status <> 'completed'
            """)
        try await connection.query("""
            UPDATE rollout_stores SET status = 'skipped', message = 'the rollout was cancelled before this store''s turn', updated_at = now()
            WHERE rollout_id = \(rollout) AND status = 'pending'
            """)
    }
}

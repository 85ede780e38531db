import Foundation
import Jobs
import Platform
import Postgres

/// A revision of a store as its update job reads it: the spec it applies, what it replaces, and
/// whether the update already failed for good (then the job's rollback step restores the previous one).
struct StoreRevision: Sendable {
    let number: Int
    let spec: StoreSpec
    let outcome: String
    /// Set once the update failed for good: why. From then on the steps before `rollback` do nothing.
    let rollbackReason: String?
    /// The helm revision that was deployed when the update began.
    let helmPrevious: Int?

    /// What an update job's payload names.
    struct Payload: Codable {
        var revision: Int
    }

    static func load(store: UUID, number: Int, from postgres: PostgresPool) async throws -> StoreRevision {
        guard let row = try await postgres.query("""
            SELECT revision, plan, chart_version, app_version, outcome, rollback_reason, helm_previous
            FROM store_revisions WHERE store_id = \(store) AND revision = \(number)
            """).first else {
            throw StepFailure.permanent("revision \(number) of store \(store.lower) does not exist")
        }
        return StoreRevision(
            number: try row.decode("revision"),
            spec: StoreSpec(plan: try row.decode("plan"), chartVersion: try row.decode("chart_version"), appVersion: try row.decode("app_version")),
            outcome: try row.decode("outcome"), rollbackReason: try row.decode("rollback_reason"), helmPrevious: try row.decode("helm_previous"))
    }

    /// Records, under the job's claim, that the update failed for good and why; the first reason stands.
    static func markRollingBack(_ context: StepContext, store: UUID, number: Int, reason: String) async throws {
        try await context.fenced { connection in
            _ = try await connection.query("""
                UPDATE store_revisions SET rollback_reason = coalesce(rollback_reason, \(reason))
                WHERE store_id = \(store) AND revision = \(number)
                """)
        }
    }

    /// Records, under the job's claim, the helm revision the update began from, unless one is recorded.
    static func recordHelmPrevious(_ context: StepContext, store: UUID, number: Int, helmRevision: Int) async throws {
        try await context.fenced { connection in
            _ = try await connection.query("""
                UPDATE store_revisions SET helm_previous = coalesce(helm_previous, \(helmRevision))
                WHERE store_id = \(store) AND revision = \(number)
                """)
        }
    }
}

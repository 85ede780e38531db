import Foundation
import Jobs
import Postgres

/// What the platform keeps of its own rows once they stop mattering, pruned by the job engine's
/// maintenance leader on its retention schedule (`RetentionSettings.rules`).
public struct PlatformRetention: Sendable {
    /// Stores deleted longer ago than this, with their jobs.
    public var deletedStores: Double = 30 * 86_400
    /// Audit events older than this.
    public var auditEvents: Double = 365 * 86_400
    /// API tokens revoked or expired longer ago than this (such a token authenticates nothing; its row
    /// only says what it was).
    public var revokedTokens: Double = 30 * 86_400

    public init() {}

    public var rules: [RetentionRule] {
        let deletedStores = deletedStores, auditEvents = auditEvents, revokedTokens = revokedTokens
        return [
            // Deleted stores, their jobs first (all finished: a store is deleted by its last job).
            RetentionRule("stores") { postgres, limit in
                try await postgres.transaction { connection -> RetentionRule.Deleted in
                    let stores = try await connection.query("""
                        SELECT id FROM stores WHERE status = 'deleted' AND updated_at < now() - make_interval(secs => \(deletedStores))
                          AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.store_id = stores.id AND j.status NOT IN ('succeeded', 'failed', 'cancelled'))
                        ORDER BY updated_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
                        """).rows.map { try $0.decode("id", as: UUID.self) }
                    guard !stores.isEmpty else { return .init(rows: 0) }
                    let ids = PostgresTextArray(stores.map { $0.uuidString.lowercased() })
                    let jobs = try await Self.count(connection.query("""
                        WITH gone AS (DELETE FROM jobs WHERE store_id = ANY(\(ids)::uuid[]) RETURNING 1) SELECT count(*) AS n FROM gone
                        """))
                    let rows = try await Self.count(connection.query("""
                        WITH gone AS (DELETE FROM stores WHERE id = ANY(\(ids)::uuid[]) RETURNING 1) SELECT count(*) AS n FROM gone
                        """))
                    return .init(rows: rows, jobs: jobs)
                }
            },
            RetentionRule("audit_events") { postgres, limit in
                .init(rows: try await Self.count(postgres.query("""
                    WITH gone AS (
                        DELETE FROM audit_events WHERE id IN (
                            SELECT id FROM audit_events WHERE at < now() - make_interval(secs => \(auditEvents)) ORDER BY at LIMIT \(limit))
                        RETURNING 1)
                    SELECT count(*) AS n FROM gone
                    """)))
            },
            RetentionRule("revoked_tokens") { postgres, limit in
                .init(rows: try await Self.count(postgres.query("""
                    WITH gone AS (
                        DELETE FROM api_tokens WHERE id IN (
                            SELECT id FROM api_tokens
                            WHERE revoked_at < now() - make_interval(secs => \(revokedTokens))
                               OR expires_at < now() - make_interval(secs => \(revokedTokens))
                            ORDER BY least(revoked_at, expires_at) LIMIT \(limit))
                        RETURNING 1)
                    SELECT count(*) AS n FROM gone
                    """)))
            },
        ]
    }

    private static func count(_ result: PostgresResult) throws -> Int {
        try result.first?.decode("n", as: Int.self) ?? 0
    }
}

import Foundation
import Postgres

/// How long the platform keeps what it no longer needs. Pruned by the maintenance leader in batches,
/// so that no pass holds locks or bloats one transaction for long.
public struct RetentionSettings: Sendable {
    /// Finished jobs (with their steps and transitions) older than this; a store's newest job is kept
    /// as long as the store is, since the store's view shows it.
    public var jobs: Double = 30 * 86_400
    /// Stores deleted longer ago than this, with their jobs.
    public var deletedStores: Double = 30 * 86_400
    /// Audit events older than this.
    public var auditEvents: Double = 365 * 86_400
    /// API tokens revoked or expired longer ago than this (such a token authenticates nothing; its row
    /// only says what it was).
    public var revokedTokens: Double = 30 * 86_400
    /// How often the leader prunes.
    public var interval: Double = 60
    /// Rows deleted per statement, and statements per table per pass at most.
    public var batch: Int = 500
    public var batchesPerPass: Int = 20

    public init() {}
}

extension JobStore {
    /// What one pruning pass deleted.
    public struct Pruned: Sendable, Equatable, CustomStringConvertible {
        public var jobs = 0
        public var stores = 0
        public var auditEvents = 0
        public var revokedTokens = 0
        public var isEmpty: Bool { jobs + stores + auditEvents + revokedTokens == 0 }
        public var description: String { "jobs=\(jobs) stores=\(stores) audit_events=\(auditEvents) revoked_tokens=\(revokedTokens)" }
    }

    /// One pruning pass: each kind of row in batches, oldest first, until none is left or the pass's
    /// batch budget is spent (the next pass goes on).
    public func prune(_ settings: RetentionSettings) async throws -> Pruned {
        var pruned = Pruned()
        func batches(_ statement: () async throws -> Int) async throws -> Int {
            var total = 0
            for _ in 0..<settings.batchesPerPass {
                let deleted = try await statement()
                total += deleted
                if deleted < settings.batch { break }
            }
            return total
        }
        let limit = settings.batch
        // Finished jobs, unless a job is its store's newest (a waiting or running job is never touched).
        pruned.jobs = try await batches {
            try await count(postgres.query("""
                WITH gone AS (
                    DELETE FROM jobs WHERE id IN (
                        SELECT j.id FROM jobs j
                        WHERE j.finished_at < now() - make_interval(secs => \(settings.jobs))
                          AND j.status IN ('succeeded', 'failed', 'cancelled')
                          AND (j.store_id IS NULL OR EXISTS (
                                SELECT 1 FROM jobs n WHERE n.store_id = j.store_id AND n.created_at > j.created_at))
                        ORDER BY j.finished_at LIMIT \(limit))
                    RETURNING 1)
                SELECT count(*) AS n FROM gone
                """))
        }
        // Deleted stores, their jobs first (all finished: a store is deleted by its last job).
        var storeJobs = 0
        pruned.stores = try await batches {
            let (stores, jobs) = try await postgres.transaction { connection -> (Int, Int) in
                let stores = try await connection.query("""
                    SELECT id FROM stores WHERE status = 'deleted' AND updated_at < now() - make_interval(secs => \(settings.deletedStores))
                      AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.store_id = stores.id AND j.status NOT IN ('succeeded', 'failed', 'cancelled'))
                    ORDER BY updated_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
                    """).rows.map { try $0.decode("id", as: UUID.self) }
                guard !stores.isEmpty else { return (0, 0) }
                let ids = PostgresTextArray(stores.map { $0.uuidString.lowercased() })
                let jobs = try await count(connection.query("""
                    WITH gone AS (DELETE FROM jobs WHERE store_id = ANY(\(ids)::uuid[]) RETURNING 1) SELECT count(*) AS n FROM gone
                    """))
                let deleted = try await count(connection.query("""
                    WITH gone AS (DELETE FROM stores WHERE id = ANY(\(ids)::uuid[]) RETURNING 1) SELECT count(*) AS n FROM gone
                    """))
                return (deleted, jobs)
            }
            storeJobs += jobs
            return stores
        }
        pruned.jobs += storeJobs
        pruned.auditEvents = try await batches {
            try await count(postgres.query("""
                WITH gone AS (
                    DELETE FROM audit_events WHERE id IN (
                        SELECT id FROM audit_events WHERE at < now() - make_interval(secs => \(settings.auditEvents)) ORDER BY at LIMIT \(limit))
                    RETURNING 1)
                SELECT count(*) AS n FROM gone
                """))
        }
        pruned.revokedTokens = try await batches {
            try await count(postgres.query("""
                WITH gone AS (
                    DELETE FROM api_tokens WHERE id IN (
                        SELECT id FROM api_tokens
                        WHERE revoked_at < now() - make_interval(secs => \(settings.revokedTokens))
                           OR expires_at < now() - make_interval(secs => \(settings.revokedTokens))
                        ORDER BY least(revoked_at, expires_at) LIMIT \(limit))
                    RETURNING 1)
                SELECT count(*) AS n FROM gone
                """))
        }
        return pruned
    }

    /// Folds the job-count deltas the triggers appended into `job_counts`, in one statement: a reader
    /// sees either the deltas or their sum, never both or neither.
    public func foldJobCounts() async throws {
        try await postgres.query("""
            WITH d AS (DELETE FROM job_count_deltas RETURNING tenant_id, status, delta),
                 s AS (SELECT tenant_id, status, sum(delta) AS n FROM d GROUP BY 1, 2)
            INSERT INTO job_counts (tenant_id, status, n) SELECT tenant_id, status, n FROM s
            ON CONFLICT (tenant_id, status) DO UPDATE SET n = job_counts.n + EXCLUDED.n
            """)
    }

    /// Jobs by status, platform-wide or of one tenant: finished ones from the counters, waiting and
    /// running ones (few, in partial indexes) counted directly. No scan of every job.
    public func jobCounts(tenant: UUID? = nil) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try await postgres.query("""
            SELECT status, sum(n)::bigint AS n FROM (
                SELECT tenant_id, status, n FROM job_counts
                UNION ALL
                SELECT tenant_id, status, delta FROM job_count_deltas
                UNION ALL
                SELECT coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'), status, count(*) FROM jobs
                WHERE status IN ('queued', 'retrying') GROUP BY 1, 2
                UNION ALL
                SELECT coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'), status, count(*) FROM jobs
                WHERE status = 'running' GROUP BY 1, 2
            ) c WHERE \(tenant)::uuid IS NULL OR tenant_id = \(tenant)::uuid
            GROUP BY status HAVING sum(n) <> 0
            """).rows {
            counts[try row.decode("status")] = try row.decode("n", as: Int.self)
        }
        return counts
    }

    private func count(_ result: PostgresResult) throws -> Int {
        try result.first?.decode("n", as: Int.self) ?? 0
    }
}

import Foundation
import Postgres

/// How long the engine keeps finished jobs, and what else the maintenance leader prunes on the same
/// schedule. Pruned in batches, so that no pass holds locks or bloats one transaction for long.
public struct RetentionSettings: Sendable {
    /// Finished jobs (with their steps and transitions) older than this; the newest job of each
    /// `store_id` is kept (a program's view of that key shows it), whatever its age.
    public var jobs: Double = 30 * 86_400
    /// How often the leader prunes.
    public var interval: Double = 60
    /// Rows deleted per statement, and statements per rule per pass at most.
    public var batch: Int = 500
    public var batchesPerPass: Int = 20
    /// Rows outside the engine's tables that the program pruning them owns (the platform's deleted
    /// stores, audit events, revoked tokens), run after the engine's own, on its schedule and budget.
    public var rules: [RetentionRule] = []

    public init() {}
}

/// One kind of row a program prunes with the engine's retention: `prune` deletes at most `limit` rows
/// past their age, oldest first, and says how many it deleted, and how many jobs went with them (a
/// deleted store's jobs), which count with the engine's own.
public struct RetentionRule: Sendable {
    public struct Deleted: Sendable, Equatable {
        public var rows: Int
        public var jobs: Int

        public init(rows: Int, jobs: Int = 0) {
            self.rows = rows
            self.jobs = jobs
        }
    }

    public let name: String
    public let prune: @Sendable (_ postgres: PostgresPool, _ limit: Int) async throws -> Deleted

    public init(_ name: String, prune: @escaping @Sendable (_ postgres: PostgresPool, _ limit: Int) async throws -> Deleted) {
        self.name = name
        self.prune = prune
    }
}

extension JobStore {
    /// What one pruning pass deleted: jobs (the engine's own and those that went with a rule's rows),
    /// and each rule's rows, in the rules' order.
    public struct Pruned: Sendable, Equatable, CustomStringConvertible {
        public struct Count: Sendable, Equatable {
            public var name: String
            public var rows: Int
        }

        public var jobs = 0
        public var rules: [Count] = []
        public var isEmpty: Bool { jobs == 0 && rules.allSatisfy { $0.rows == 0 } }
        public subscript(rule name: String) -> Int? { rules.first { $0.name == name }?.rows }
        public var description: String {
            (["jobs=\(jobs)"] + rules.map { "\($0.name)=\($0.rows)" }).joined(separator: " ")
        }
    }

    /// One pruning pass: the engine's finished jobs, then each rule, in batches, oldest first, until
    /// none is left or the pass's batch budget is spent (the next pass goes on).
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
        for rule in settings.rules {
            var jobs = 0
            let rows = try await batches {
                let deleted = try await rule.prune(postgres, limit)
                jobs += deleted.jobs
                return deleted.rows
            }
            pruned.rules.append(.init(name: rule.name, rows: rows))
            pruned.jobs += jobs
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

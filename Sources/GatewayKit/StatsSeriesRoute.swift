import Foundation
import Hummingbird
import Postgres

/// `GET /api/stats/series`: the last hour of the caller's jobs, aggregated in Postgres for the Activity
/// view's plots: jobs finished per minute by outcome, step durations (p50, p95) per step, and failed
/// attempts by step and cause. Tenant-scoped like `/api/stats` (members: their stores' jobs; admins:
/// every job). Cheap at any table size: only the jobs that finished in the window (the
/// `jobs_finished` index) or have not finished (the `jobs_pending` and `jobs_leased` partial indexes)
/// are read, and their transitions through `job_transitions_job`; docs/benchmarks.md has the numbers.
extension Gateway {
    struct StatsSeries: Codable, Sendable {
        struct Minute: Codable, Sendable {
            var minute: Date
            var succeeded = 0
            var failed = 0
            var cancelled = 0
        }

        struct StepDuration: Codable, Sendable {
            var kind: String
            var step: String
            /// Successful attempts measured.
            var count: Int
            var p50Ms: Double
            var p95Ms: Double
        }

        struct Failure: Codable, Sendable {
            var kind: String
            var step: String
            /// FailureClassifier.cause: postgres, redis, timeout, helm…, kubernetes-<reason>, step, cancelled, other.
            var cause: String
            var count: Int
        }

        var windowMinutes: Int
        var jobsPerMinute: [Minute]
        var stepDurations: [StepDuration]
        var failures: [Failure]
    }

    static let seriesWindowMinutes = 60

    func addStatsSeriesRoute(to api: RouterGroup<GatewayContext>) {
        api.get("stats/series") { _, context -> Response in
            let caller = try context.requireCaller()
            return JSONCoding.response(try await self.statsSeries(tenant: caller.isAdmin ? nil : caller.tenantID))
        }
    }

    func statsSeries(tenant: UUID?) async throws -> StatsSeries {
        let minutes = Self.seriesWindowMinutes
        return try await postgres.transaction { connection in
            // One snapshot for the three reads, so the plots agree with each other.
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return try await Self.series(minutes: minutes, tenant: tenant, on: connection)
        }
    }

    private static func series(minutes: Int, tenant: UUID?, on connection: PostgresConnection) async throws -> StatsSeries {
        let start = try await connection.query("""
            SELECT date_trunc('minute', now()) - make_interval(mins => \(minutes - 1)) AS start
            """).first!.decode("start", as: Date.self)
        var perMinute = (0..<minutes).map { StatsSeries.Minute(minute: start.addingTimeInterval(Double($0) * 60)) }
        let finished = try await connection.query("""
            SELECT date_trunc('minute', finished_at) AS minute, status, count(*) AS n FROM jobs
            WHERE finished_at >= \(start) AND (\(tenant)::uuid IS NULL OR tenant_id = \(tenant)::uuid)
            GROUP BY 1, 2
            """).rows
        for row in finished {
            let index = Int((try row.decode("minute", as: Date.self).timeIntervalSince(start) / 60).rounded())
            guard perMinute.indices.contains(index) else { continue }
            let n: Int = try row.decode("n")
            switch try row.decode("status", as: String.self) {
            case "succeeded": perMinute[index].succeeded += n
            case "failed": perMinute[index].failed += n
            case "cancelled": perMinute[index].cancelled += n
            default: break
            }
        }
        // Step attempts in the window, of the jobs that finished in it or have not finished: one pass
        // for both the durations (successful attempts) and the failures (failed or retried ones).
        let rows = try await connection.query("""
            WITH recent AS (
                SELECT id, kind FROM jobs WHERE finished_at >= \(start) AND (\(tenant)::uuid IS NULL OR tenant_id = \(tenant)::uuid)
                UNION ALL
                SELECT id, kind FROM jobs WHERE status IN ('queued', 'retrying') AND (\(tenant)::uuid IS NULL OR tenant_id = \(tenant)::uuid)
                UNION ALL
                SELECT id, kind FROM jobs WHERE status = 'running' AND (\(tenant)::uuid IS NULL OR tenant_id = \(tenant)::uuid)
            ), attempts AS (
                SELECT r.kind, t.step, t.position, t.status, t.duration_ms, t.cause
                FROM recent r JOIN job_transitions t ON t.job_id = r.id
                WHERE t.at >= \(start) AND t.step IS NOT NULL AND t.status IN ('succeeded', 'retrying', 'failed')
            )
            SELECT 'duration' AS what, kind, step, min(position) AS position, NULL::text AS cause, count(*) AS n,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
            FROM attempts WHERE status = 'succeeded' AND duration_ms IS NOT NULL GROUP BY kind, step
            UNION ALL
            SELECT 'failure', kind, step, min(position), coalesce(cause, 'other'), count(*), NULL, NULL
            FROM attempts WHERE status <> 'succeeded' GROUP BY kind, step, coalesce(cause, 'other')
            ORDER BY what, kind, position, n DESC
            """).rows
        var durations: [StatsSeries.StepDuration] = [], failures: [StatsSeries.Failure] = []
        for row in rows {
            if try row.decode("what", as: String.self) == "duration" {
                durations.append(StatsSeries.StepDuration(kind: try row.decode("kind"), step: try row.decode("step"), count: try row.decode("n"),
                                                          p50Ms: try row.decode("p50"), p95Ms: try row.decode("p95")))
            } else {
                failures.append(StatsSeries.Failure(kind: try row.decode("kind"), step: try row.decode("step"), cause: try row.decode("cause"),
                                                    count: try row.decode("n")))
            }
        }
        failures.sort { ($0.count, $1.kind, $1.step) > ($1.count, $0.kind, $0.step) }
        return StatsSeries(windowMinutes: minutes, jobsPerMinute: perMinute, stepDurations: durations, failures: failures)
    }
}

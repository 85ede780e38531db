import Foundation
import Hummingbird
import Jobs
import Platform
import Postgres
import Redis

extension Gateway {
    /// Liveness and readiness, and the Prometheus metrics unless they have a port of their own.
    func addOperationalRoutes(to router: Router<GatewayContext>, metrics withMetrics: Bool = true) {
        router.get("/healthz") { _, _ in Self.text("ok\n") }
        router.get("/readyz") { _, _ -> Response in
            let problems = await Backends(postgres: postgres, redis: redis).check()
            guard problems.isEmpty else {
                // Name what is unreachable, not why: error texts can carry host names.
                return Self.text(problems.keys.sorted().map { "\($0): unreachable" }.joined(separator: "\n") + "\n", status: .serviceUnavailable)
            }
            return Self.text("ready\n")
        }
        if withMetrics { addMetricsRoute(to: router) }
    }

    /// The router of the metrics port: `/metrics` only.
    public func buildMetricsRouter() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        addMetricsRoute(to: router)
        return router
    }

    func addMetricsRoute(to router: Router<GatewayContext>) {
        router.get("/metrics") { _, _ -> Response in
            var out = metrics.render()
            let stats = try? await self.stats()
            out += "# HELP storefleet_jobs Jobs by status.\n# TYPE storefleet_jobs gauge\n"
            for (status, count) in (stats?.jobsByStatus ?? [:]).sorted(by: { $0.key < $1.key }) {
                out += "storefleet_jobs{status=\"\(status)\"} \(count)\n"
            }
            out += "# HELP storefleet_queue_depth Jobs waiting in Redis (ready and scheduled for retry).\n# TYPE storefleet_queue_depth gauge\n"
            out += "storefleet_queue_depth \(stats?.queueDepth ?? 0)\n"
            out += "# HELP storefleet_live_workers Worker processes whose heartbeat is current.\n# TYPE storefleet_live_workers gauge\n"
            out += "storefleet_live_workers \(stats?.liveWorkers ?? 0)\n"
            if let fleet = try? await self.fleetFigures() {
                out += "# HELP storefleet_oldest_waiting_job_age_seconds How long the longest-waiting due job has waited (0: none waits).\n"
                out += "# TYPE storefleet_oldest_waiting_job_age_seconds gauge\n"
                out += "storefleet_oldest_waiting_job_age_seconds \(fleet.oldestWaiting)\n"
                out += "# HELP storefleet_stores Stores not deleted, by engine and status.\n# TYPE storefleet_stores gauge\n"
                for (engine, status, count) in fleet.stores { out += "storefleet_stores{engine=\"\(engine)\",status=\"\(status)\"} \(count)\n" }
            }
            return Self.text(out, contentType: "text/plain; version=0.0.4")
        }
    }

    func addStatsRoute(to api: RouterGroup<GatewayContext>) {
        api.get("stats") { _, context -> Response in
            // Members see their own jobs; queue depth and live workers describe the shared capacity
            // every tenant waits on, so they stay platform-wide.
            let caller = try context.requireCaller()
            return JSONCoding.response(try await self.stats(tenant: caller.isAdmin ? nil : caller.tenantID))
        }
    }

    struct Stats: Codable, Sendable {
        var queueDepth: Int
        var retryScheduled: Int
        var runningJobs: Int
        var liveWorkers: Int
        var jobsFinishedLastMinute: Int
        var jobsByStatus: [String: Int]
    }

    /// Platform-wide figures, or with `tenant` the job figures of that tenant's stores only.
    func stats(tenant: UUID? = nil) async throws -> Stats {
        let keys = queue.keys
        let nowMs = Int(Date().timeIntervalSince1970 * 1000)
        let replies = try await redis.pipeline([
            RedisCommand("LLEN", keys.queue), RedisCommand("ZCARD", keys.retry),
            RedisCommand("ZCOUNT", keys.workers, nowMs, "+inf"),
        ])
        // From the counters the job triggers keep (migration 0009), not a count over every job.
        let byStatus = try await queue.store.jobCounts(tenant: tenant)
        let finished = try await postgres.query("""
            SELECT count(*) AS n FROM jobs j
            WHERE j.finished_at > now() - interval '1 minute' AND (\(tenant)::uuid IS NULL OR j.tenant_id = \(tenant)::uuid)
            """).first!.decode("n", as: Int.self)
        return Stats(
            queueDepth: (replies[0].int ?? 0) + (replies[1].int ?? 0), retryScheduled: replies[1].int ?? 0,
            runningJobs: byStatus["running"] ?? 0, liveWorkers: replies[2].int ?? 0,
            jobsFinishedLastMinute: finished, jobsByStatus: byStatus
        )
    }

    /// What an operator's dashboards and alerts ask of the fleet: how long the longest-waiting due job
    /// has waited (a queue that is not drained shows here before it shows in its depth), and the live
    /// stores by engine and status. Both read partial indexes (`jobs_pending`, `stores_tenant_live`), not
    /// the whole tables; deleted stores, which only grow until retention prunes them, are left out.
    func fleetFigures() async throws -> (oldestWaiting: Double, stores: [(engine: String, status: String, Int)]) {
        let oldest = try await postgres.query("""
            SELECT coalesce(extract(epoch FROM now() - min(run_at)), 0)::float8 AS age FROM jobs
            WHERE status IN ('queued', 'retrying') AND run_at <= now()
            """).first?.decode("age", as: Double.self) ?? 0
        let stores = try await postgres.query("""
            SELECT engine, status, count(*) AS n FROM stores WHERE status <> 'deleted' GROUP BY 1, 2 ORDER BY 1, 2
            """).rows.map { (try $0.decode("engine", as: String.self), try $0.decode("status", as: String.self), try $0.decode("n", as: Int.self)) }
        return (max(0, oldest), stores.map { (engine: $0.0, status: $0.1, $0.2) })
    }

    static func text(_ text: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

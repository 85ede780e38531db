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

    static func text(_ text: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

import Foundation
import GatewayKit
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport
import Logging
import Postgres
import Redis
import Jobs
import Platform

@Suite struct OperationalTests {
    @Test func healthReadinessAndRequestIDs() async throws {
        try await GatewayHarness.with { _, client in
            let health = try await client.call(.get, "/healthz")
            #expect(health.status == .ok)
            #expect(health.header("X-Request-ID")?.isEmpty == false)
            let ready = try await client.call(.get, "/readyz")
            #expect(ready.status == .ok)
            // A sensible client request ID is echoed; a hostile one is replaced.
            let echoed = try await client.call(.get, "/healthz", headers: ["X-Request-ID": "abc-123"])
            #expect(echoed.header("X-Request-ID") == "abc-123")
            let replaced = try await client.call(.get, "/healthz", headers: ["X-Request-ID": String(repeating: "x", count: 500)])
            #expect(replaced.header("X-Request-ID")?.count == 36)
            let unknown = try await client.call(.get, "/nowhere")
            #expect(unknown.status == .notFound)
            #expect(unknown.header("Content-Type") == "application/problem+json")
            #expect(unknown.header("X-Request-ID") != nil)
        }
    }

    @Test func metricsCountRequestsPerRouteAndShowJobsAndQueue() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            _ = try await client.call(.post, "/api/stores", token: token, json: ["name": "metered", "engine": "medusa"])
            let metrics = try await client.call(.get, "/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.text.contains(#"storefleet_http_requests_total{method="POST",route="/api/stores",status="202"} 1"#))
            #expect(metrics.text.contains(#"storefleet_http_request_duration_seconds_bucket{method="POST",route="/api/stores",le="+Inf"} 1"#))
            #expect(metrics.text.contains(#"storefleet_jobs{status="queued"} 1"#))
            #expect(metrics.text.contains("storefleet_queue_depth 1"))
            #expect(metrics.text.contains(#"storefleet_stores{engine="medusa",status="provisioning"} 1"#))
            #expect(metrics.text.contains("storefleet_live_workers 0"))
            // The create's job is due and no worker runs here: it has been waiting since it was made.
            try await harness.postgres.query("UPDATE jobs SET run_at = now() - interval '90 seconds'")
            let later = try await client.call(.get, "/metrics")
            let age = later.text.split(separator: "\n").first { $0.hasPrefix("storefleet_oldest_waiting_job_age_seconds ") }
                .flatMap { Double($0.split(separator: " ")[1]) }
            #expect(age.map { $0 >= 90 && $0 < 300 } == true, "\(String(describing: age))")
        }
    }

    @Test func metricsOnAPortOfTheirOwnAreNotServedWithTheAPI() async throws {
        try await GatewayHarness.with { harness, _ in
            // GATEWAY_METRICS_PORT: what an Ingress in front of the API port can reach has no /metrics.
            try await Application(router: harness.gateway.buildRouter(metrics: false)).test(.router) { api in
                let metrics = try await api.call(.get, "/metrics")
                #expect(metrics.status == .notFound)
                let health = try await api.call(.get, "/healthz")
                #expect(health.status == .ok)
            }
            try await Application(router: harness.gateway.buildMetricsRouter()).test(.router) { metrics in
                let scraped = try await metrics.call(.get, "/metrics")
                #expect(scraped.status == .ok)
                #expect(scraped.text.contains("storefleet_queue_depth"))
                let api = try await metrics.call(.get, "/api/stores")
                #expect(api.status == .notFound, "the metrics port serves nothing else")
            }
        }
    }

    @Test func statsNeedATokenAndReportTheQueue() async throws {
        try await GatewayHarness.with { harness, client in
            #expect(try await client.call(.get, "/api/stats").status == .unauthorized)
            let (_, token) = try await harness.tenant(client)
            _ = try await client.call(.post, "/api/stores", token: token, json: ["name": "counted", "engine": "woocommerce"])
            try await harness.redis.send("ZADD", harness.keys.workers, Int(Date().timeIntervalSince1970 * 1000) + 60_000, "w1")
            let stats = try await client.call(.get, "/api/stats", token: token)
            #expect(stats.status == .ok)
            #expect(stats.json["queue_depth"] as? Int == 1)
            #expect(stats.json["running_jobs"] as? Int == 0)
            #expect(stats.json["live_workers"] as? Int == 1)
            #expect(stats.json["jobs_finished_last_minute"] as? Int == 0)
        }
    }
}

@Suite struct StatsSeriesTests {
    /// Finishes a store's job `minutesAgo` with the given step attempts (step, position, status, ms, cause).
    static func finish(_ harness: GatewayHarness, store: String, status: String, minutesAgo: Int,
                       attempts: [(String, Int, String, Double, String?)]) async throws {
        let job = try await harness.postgres.query("SELECT id FROM jobs WHERE store_id = \(UUID(uuidString: store)!)").first!.decode("id", as: UUID.self)
        let at = Date().addingTimeInterval(-Double(minutesAgo) * 60)
        try await harness.postgres.query("UPDATE jobs SET status = \(status), finished_at = \(at) WHERE id = \(job)")
        for (step, position, outcome, ms, cause) in attempts {
            try await harness.postgres.query("""
                INSERT INTO job_transitions (job_id, step, position, attempt, status, duration_ms, at, cause)
                VALUES (\(job), \(step), \(position), 1, \(outcome), \(ms), \(at), \(cause))
                """)
        }
    }

    @Test("the last hour per minute, step p50/p95 and failures by cause, each tenant seeing only its own jobs")
    func series() async throws {
        try await GatewayHarness.with { harness, client in
            #expect(try await client.call(.get, "/api/stats/series").status == .unauthorized)
            let (_, mine) = try await harness.tenant(client)
            let (_, theirs) = try await harness.tenant(client)
            func create(_ name: String, _ token: String) async throws -> String {
                let created = try await client.call(.post, "/api/stores", token: token, json: ["name": name, "engine": "medusa"])
                return try #require((created.json["store"] as? [String: Any])?["id"] as? String)
            }
            let a = try await create("plotted-a", mine), old = try await create("plotted-old", mine), b = try await create("plotted-b", theirs)
            try await Self.finish(harness, store: a, status: "succeeded", minutesAgo: 2, attempts: [
                ("namespace", 0, "succeeded", 100, nil), ("release", 3, "retrying", 50, "kubernetes-conflict"),
                ("release", 3, "succeeded", 1000, nil), ("release", 3, "succeeded", 3000, nil),
            ])
            try await Self.finish(harness, store: b, status: "failed", minutesAgo: 5, attempts: [("release", 3, "failed", 900_000, "helm-timeout")])
            // Two hours ago: outside the window.
            try await Self.finish(harness, store: old, status: "failed", minutesAgo: 120, attempts: [("release", 3, "failed", 5, "timeout")])

            let member = try await client.call(.get, "/api/stats/series", token: mine)
            #expect(member.status == .ok)
            let perMinute = try #require(member.json["jobs_per_minute"] as? [[String: Any]])
            #expect(perMinute.count == 60 && member.json["window_minutes"] as? Int == 60)
            #expect(perMinute.reduce(0) { $0 + ($1["succeeded"] as! Int) } == 1)
            #expect(perMinute.reduce(0) { $0 + ($1["failed"] as! Int) } == 0, "another tenant's failure, and one two hours old, are not shown")
            #expect(perMinute[57]["succeeded"] as? Int == 1, "two minutes ago: the third bucket from the end")
            let durations = try #require(member.json["step_durations"] as? [[String: Any]])
            #expect(durations.map { $0["step"] as? String } == ["namespace", "release"], "in step order")
            let release = try #require(durations.last)
            #expect(release["count"] as? Int == 2 && release["p50_ms"] as? Double == 2000 && release["p95_ms"] as? Double == 2900)
            let failures = try #require(member.json["failures"] as? [[String: Any]])
            #expect(failures.count == 1)
            #expect(failures.first?["cause"] as? String == "kubernetes-conflict" && failures.first?["step"] as? String == "release")

            let admin = try await client.call(.get, "/api/stats/series", token: GatewayHarness.adminToken)
            let all = try #require(admin.json["failures"] as? [[String: Any]])
            #expect(Set(all.compactMap { $0["cause"] as? String }) == ["kubernetes-conflict", "helm-timeout"])
            #expect((admin.json["jobs_per_minute"] as? [[String: Any]])?.reduce(0) { $0 + ($1["failed"] as! Int) } == 1)
        }
    }
}

@Suite struct BackendOutageTests {
    /// With Redis unreachable: readiness fails naming Redis (and not its address), store creation still
    /// works (Postgres is the source of truth; the sweeper dispatches later), and reads are unaffected.
    @Test func redisDownFailsReadinessButNotStoreCreation() async throws {
        try await withTestDatabase { database in
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let postgres = PostgresPool(configuration: PostgresConfiguration(url: database.url, maxConnections: 4))
            let redis = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:1/0"))
            let gateway = Gateway(postgres: postgres, redis: redis, settings: APISettings(bootstrapAdminToken: GatewayHarness.adminToken), logger: logger)
            try await Schema.migrate(postgres, logger: logger)
            try await gateway.bootstrapAdmin()
            let app = Application(router: gateway.buildRouter())
            try await app.test(.router) { client in
                let ready = try await client.call(.get, "/readyz")
                #expect(ready.status == .serviceUnavailable)
                #expect(ready.text == "redis: unreachable\n")
                let created = try await client.call(.post, "/api/stores", token: GatewayHarness.adminToken, json: ["name": "offline", "engine": "medusa"])
                #expect(created.status == .accepted)
                #expect(try await client.call(.get, "/api/stores", token: GatewayHarness.adminToken).status == .ok)
            }
            let queued = try await postgres.query("SELECT count(*) AS n FROM jobs WHERE status = 'queued'").first!.decode("n", as: Int.self)
            #expect(queued == 1)
            await postgres.shutdown()
            await redis.shutdown()
        }
    }
}

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

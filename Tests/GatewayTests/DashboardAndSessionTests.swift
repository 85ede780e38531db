import Foundation
import GatewayKit
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

@Suite struct DashboardAndSessionTests {
    @Test("the dashboard is served at / with a strict content security policy; the API still answers problem+json")
    func dashboardIsServed() async throws {
        try await GatewayHarness.with { _, client in
            let index = try await client.call(.get, "/")
            #expect(index.status == .ok)
            #expect(index.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(index.text.contains("<title>Storefleet"))
            let policy = try #require(index.header("Content-Security-Policy"))
            #expect(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"))
            #expect(index.header("X-Content-Type-Options") == "nosniff")
            let script = try await client.call(.get, "/app.js")
            #expect(script.status == .ok)
            #expect(script.header("Content-Type")?.contains("javascript") == true)
            // Files never shadow the API, and paths cannot climb out of the dashboard folder.
            let unauthenticated = try await client.call(.get, "/api/stores")
            #expect(unauthenticated.status == .unauthorized)
            #expect(unauthenticated.header("Content-Type") == "application/problem+json")
            let climbing = try await client.call(.get, "/../Package.swift")
            #expect(climbing.status != .ok)
        }
    }

    @Test("GET /api/me names the caller's tenant and role, and says whether the cluster is simulated")
    func session() async throws {
        try await GatewayHarness.with(configure: { $0.simulatedCluster = true }) { harness, client in
            let (id, token) = try await harness.tenant(client)
            let me = try await client.call(.get, "/api/me", token: token)
            #expect(me.status == .ok)
            #expect((me.json["tenant"] as? [String: Any])?["id"] as? String == id)
            #expect((me.json["tenant"] as? [String: Any])?["role"] as? String == "member")
            #expect((me.json["token"] as? [String: Any])?["name"] as? String == "ci")
            #expect(me.json["simulated_cluster"] as? Bool == true)
            #expect(!me.text.contains(token), "the token itself is never echoed")
            let admin = try await client.call(.get, "/api/me", token: GatewayHarness.adminToken)
            #expect((admin.json["tenant"] as? [String: Any])?["role"] as? String == "admin")
            #expect(try await client.call(.get, "/api/me").status == .unauthorized)
        }
    }

    @Test("stats: members count only their own stores' jobs; admins count all; queue depth and workers are shared")
    func statsAreTenantScoped() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, alice) = try await harness.tenant(client)
            let (_, bob) = try await harness.tenant(client)
            for name in ["alice-one", "alice-two"] {
                #expect(try await client.call(.post, "/api/stores", token: alice, json: ["name": name, "engine": "woocommerce"]).status == .accepted)
            }
            #expect(try await client.call(.post, "/api/stores", token: bob, json: ["name": "bob-one", "engine": "medusa"]).status == .accepted)
            func queued(_ token: String) async throws -> (jobs: Int, depth: Int) {
                let stats = try await client.call(.get, "/api/stats", token: token).json
                return ((stats["jobs_by_status"] as? [String: Any])?["queued"] as? Int ?? 0, stats["queue_depth"] as? Int ?? -1)
            }
            let forAlice = try await queued(alice)
            let forBob = try await queued(bob)
            let forAdmin = try await queued(GatewayHarness.adminToken)
            #expect(forAlice.jobs == 2 && forBob.jobs == 1 && forAdmin.jobs == 3)
            #expect(forAlice.depth == forAdmin.depth && forBob.depth == forAdmin.depth)
        }
    }

    @Test("a token's last use is recorded, for people deciding which tokens to revoke")
    func lastUsedIsRecorded() async throws {
        try await GatewayHarness.with { harness, client in
            let (id, token) = try await harness.tenant(client)
            let tenant = try #require(UUID(uuidString: id))
            let before = try await harness.postgres.query("SELECT last_used_at FROM api_tokens WHERE tenant_id = \(tenant)").first?.decode("last_used_at", as: Date?.self)
            #expect(before == nil)
            _ = try await client.call(.get, "/api/stores", token: token)
            let after = try await harness.postgres.query("SELECT last_used_at FROM api_tokens WHERE tenant_id = \(tenant)").first?.decode("last_used_at", as: Date?.self)
            let used = try #require(after)
            #expect(abs(used.timeIntervalSinceNow) < 60)
        }
    }

    @Test("a store's jobs page newest first with a cursor, and a bad cursor is a 422")
    func jobsPage() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "paged", "engine": "woocommerce"])
            let store = try #require((created.json["store"] as? [String: Any])?["id"] as? String)
            #expect(try await client.call(.delete, "/api/stores/\(store)", token: token).status == .accepted)
            let first = try await client.call(.get, "/api/jobs?store=\(store)&limit=1", token: token)
            let firstItems = first.json["items"] as? [[String: Any]] ?? []
            #expect(firstItems.map { $0["kind"] as? String } == ["store.delete"])
            let cursor = try #require(first.json["next_cursor"] as? String)
            let second = try await client.call(.get, "/api/jobs?store=\(store)&limit=1&cursor=\(cursor)", token: token)
            #expect((second.json["items"] as? [[String: Any]] ?? []).map { $0["kind"] as? String } == ["store.create"])
            #expect(second.json["next_cursor"] == nil)
            #expect(try await client.call(.get, "/api/jobs?store=\(store)&cursor=nope", token: token).status == .unprocessableContent)
        }
    }
}

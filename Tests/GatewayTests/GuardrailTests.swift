import Foundation
import GatewayKit
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

@Suite struct GuardrailTests {
    @Test func aTenantCannotExceedItsStoreLimit() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client, storeLimit: 2)
            for name in ["one", "two"] {
                #expect(try await client.call(.post, "/api/stores", token: token, json: ["name": "\(name)-shop", "engine": "medusa"]).status == .accepted)
            }
            let third = try await client.call(.post, "/api/stores", token: token, json: ["name": "three-shop", "engine": "medusa"])
            #expect(third.status == .conflict)
            #expect(third.json["type"] as? String == "https://storefleet.dev/problems/store-limit")
            #expect(try await harness.count("stores") == 2)
            // An admin can raise (or lower) the limit; members cannot.
            let tenantID = try #require(try await harness.postgres.query("SELECT tenant_id FROM stores LIMIT 1").first?.decode("tenant_id", as: UUID.self))
            #expect(try await client.call(.patch, "/api/tenants/\(tenantID.uuidString)", token: token, json: ["store_limit": 9]).status == .forbidden)
            #expect(try await client.call(.patch, "/api/tenants/\(tenantID.uuidString)", token: GatewayHarness.adminToken, json: ["store_limit": -1]).status == .unprocessableContent)
            let raised = try await client.call(.patch, "/api/tenants/\(tenantID.uuidString)", token: GatewayHarness.adminToken, json: ["store_limit": 3])
            #expect(raised.status == .ok)
            #expect(raised.json["store_limit"] as? Int == 3)
            #expect(try await client.call(.post, "/api/stores", token: token, json: ["name": "four-shop", "engine": "medusa"]).status == .accepted)
            #expect(try await client.call(.post, "/api/stores", token: token, json: ["name": "five-shop", "engine": "medusa"]).status == .conflict)
            // Deleted stores do not count.
            try await harness.postgres.query("UPDATE stores SET status = 'deleted' WHERE name = 'one-shop'")
            #expect(try await client.call(.post, "/api/stores", token: token, json: ["name": "five-shop", "engine": "medusa"]).status == .accepted)
        }
    }

    @Test("concurrent creates never take a tenant past its store limit, and the refused ones leave nothing")
    func concurrentCreatesRespectTheLimit() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client, storeLimit: 3)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for n in 0..<20 {
                    group.addTask {
                        try await client.call(.post, "/api/stores", token: token, json: ["name": "race-\(n)-shop", "engine": "woocommerce"]).status
                    }
                }
                var statuses: [HTTPResponse.Status] = []
                for try await status in group { statuses.append(status) }
                return statuses
            }
            #expect(statuses.filter { $0 == .accepted }.count == 3)
            #expect(statuses.filter { $0 == .conflict }.count == 17)
            #expect(try await harness.count("stores") == 3)
            #expect(try await harness.count("jobs") == 3)
            let audited = try await harness.postgres.query("SELECT count(*) AS n FROM audit_events WHERE action = 'store.create'").first!
            #expect(try audited.decode("n", as: Int.self) == 3)
        }
    }

    @Test func mutatingRequestsAreRateLimitedPerTenantWithRetryAfter() async throws {
        try await GatewayHarness.with(configure: { $0.rateLimitBurst = 3; $0.rateLimitPerMinute = 6 }) { harness, client in
            let (_, token) = try await harness.seedTenant(storeLimit: 50)
            let (_, other) = try await harness.seedTenant(storeLimit: 50)
            for index in 0..<3 {
                #expect(try await client.call(.post, "/api/stores", token: token, json: ["name": "burst-\(index)", "engine": "medusa"]).status == .accepted)
            }
            let limited = try await client.call(.post, "/api/stores", token: token, json: ["name": "burst-3", "engine": "medusa"])
            #expect(limited.status == .tooManyRequests)
            #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
            #expect(limited.json["type"] as? String == "https://storefleet.dev/problems/rate-limited")
            #expect(try await harness.count("stores") == 3)
            // Reads are not limited, and other tenants have their own bucket.
            #expect(try await client.call(.get, "/api/stores", token: token).status == .ok)
            #expect(try await client.call(.post, "/api/stores", token: other, json: ["name": "elsewhere", "engine": "medusa"]).status == .accepted)
        }
    }
}

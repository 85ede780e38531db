import Foundation
import GatewayKit
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

@Suite struct AuthAndTenantTests {
    @Test func requestsWithoutAValidTokenGet401ProblemJSON() async throws {
        try await GatewayHarness.with { _, client in
            for token in [nil, "nope", "sfk_unknown-token-value-that-was-never-issued"] {
                let reply = try await client.call(.get, "/api/stores", token: token)
                #expect(reply.status == .unauthorized)
                #expect(reply.header("Content-Type") == "application/problem+json")
                #expect(reply.header("WWW-Authenticate") == "Bearer")
                #expect(reply.json["type"] as? String == "https://storefleet.dev/problems/unauthorized")
                #expect(reply.json["status"] as? Int == 401)
                #expect(reply.header("X-Request-ID") != nil)
            }
            // A basic scheme is not a bearer token.
            let basic = try await client.call(.get, "/api/stores", headers: ["Authorization": "Basic YWRtaW46YWRtaW4="])
            #expect(basic.status == .unauthorized)
        }
    }

    @Test func adminCreatesTenantsAndTokensWhichWorkAndAreStoredHashed() async throws {
        try await GatewayHarness.with { harness, client in
            let (tenant, token) = try await harness.tenant(client, name: "acme")
            #expect(token.hasPrefix("sfk_") && token.count >= 4 + 43)
            let stores = try await client.call(.get, "/api/stores", token: token)
            #expect(stores.status == .ok)
            // Never the token itself in the database: only its digest and a short prefix.
            let rows = try await harness.postgres.query("SELECT prefix, token_hash FROM api_tokens WHERE tenant_id = \(UUID(uuidString: tenant)!)").rows
            #expect(rows.count == 1)
            #expect(try rows[0].decode("token_hash", as: [UInt8].self) == APIToken.hash(token))
            let prefix = try rows[0].decode("prefix", as: String.self)
            #expect(token.hasPrefix(prefix) && prefix.count < 16)
            let dump = try await harness.postgres.query("SELECT count(*) AS n FROM idempotency_keys WHERE response_body LIKE \("%" + token + "%")").first!.decode("n", as: Int.self)
            #expect(dump == 0)
            // Audited: the tenant's creation and its token.
            let actions = try await harness.postgres.query("SELECT action FROM audit_events ORDER BY id").rows.map { try $0.decode("action", as: String.self) }
            #expect(actions == ["tenant.create", "token.issued"])
            // A duplicate name is a conflict.
            let again = try await client.call(.post, "/api/tenants", token: GatewayHarness.adminToken, json: ["name": "acme"])
            #expect(again.status == .conflict)
        }
    }

    @Test func membersCannotManageTenantsOrTokens() async throws {
        try await GatewayHarness.with { harness, client in
            let (tenant, token) = try await harness.tenant(client)
            let create = try await client.call(.post, "/api/tenants", token: token, json: ["name": "evil"])
            #expect(create.status == .forbidden)
            let issue = try await client.call(.post, "/api/tenants/\(tenant)/tokens", token: token, json: [:])
            #expect(issue.status == .forbidden)
            // Nor list them: the names of other customers are not a member's to read.
            let list = try await client.call(.get, "/api/tenants", token: token)
            #expect(list.status == .forbidden)
            #expect(try await harness.count("tenants") == 2)
            #expect(try await harness.count("api_tokens") == 2)
        }
    }

    @Test func adminsListEveryTenantByName() async throws {
        try await GatewayHarness.with { harness, client in
            let (zeta, _) = try await harness.tenant(client, name: "zeta")
            let (acme, _) = try await harness.tenant(client, name: "acme")
            let list = try await client.call(.get, "/api/tenants", token: GatewayHarness.adminToken)
            #expect(list.status == .ok)
            let items = list.json["items"] as? [[String: Any]] ?? []
            #expect(items.compactMap { $0["name"] as? String } == ["acme", "admin", "zeta"])
            #expect(items.first?["id"] as? String == acme)
            #expect(items.last?["id"] as? String == zeta)
            #expect(items.last?["store_limit"] as? Int == 5)
            #expect(items.last?["role"] as? String == "member")
        }
    }

    @Test func revokedTokensStopWorking() async throws {
        try await GatewayHarness.with { harness, client in
            let (tenant, token) = try await harness.tenant(client)
            let tokenID = try await harness.postgres.query("SELECT id FROM api_tokens WHERE tenant_id = \(UUID(uuidString: tenant)!)").first!.decode("id", as: UUID.self)
            let revoke = try await client.call(.delete, "/api/tenants/\(tenant)/tokens/\(tokenID.uuidString)", token: GatewayHarness.adminToken)
            #expect(revoke.status == .ok)
            #expect(try await client.call(.get, "/api/stores", token: token).status == .unauthorized)
            let unknown = try await client.call(.delete, "/api/tenants/\(tenant)/tokens/\(UUID().uuidString)", token: GatewayHarness.adminToken)
            #expect(unknown.status == .notFound)
        }
    }

    @Test func rotatingTheBootstrapTokenRetiresTheOldOne() async throws {
        try await GatewayHarness.with { harness, client in
            #expect(try await client.call(.get, "/api/stores", token: GatewayHarness.adminToken).status == .ok)
            let rotated = "sfk_" + String(repeating: "r", count: 40)
            var settings = harness.gateway.settings
            settings.bootstrapAdminToken = rotated
            try await Gateway(postgres: harness.postgres, redis: harness.redis, settings: settings, logger: .init(label: "test")).bootstrapAdmin()
            #expect(try await client.call(.get, "/api/stores", token: GatewayHarness.adminToken).status == .unauthorized)
            #expect(try await client.call(.get, "/api/stores", token: rotated).status == .ok)
            // Running it again changes nothing, and a member tenant is never promoted.
            try await Gateway(postgres: harness.postgres, redis: harness.redis, settings: settings, logger: .init(label: "test")).bootstrapAdmin()
            #expect(try await client.call(.get, "/api/stores", token: rotated).status == .ok)
            #expect(try await harness.count("tenants") == 1)
        }
    }

    @Test func tokenIssuanceRefusesIdempotencyKeysAndUnknownTenants() async throws {
        try await GatewayHarness.with { harness, client in
            let (tenant, _) = try await harness.tenant(client)
            let keyed = try await client.call(.post, "/api/tenants/\(tenant)/tokens", token: GatewayHarness.adminToken, json: [:], headers: ["Idempotency-Key": "k1"])
            #expect(keyed.status == .badRequest)
            let missing = try await client.call(.post, "/api/tenants/\(UUID().uuidString)/tokens", token: GatewayHarness.adminToken, json: [:])
            #expect(missing.status == .notFound)
            let control = try await client.call(.post, "/api/tenants/\(tenant)/tokens", token: GatewayHarness.adminToken, json: ["name": "ci\u{0}"])
            #expect(control.status == .unprocessableContent, "a NUL would fail in Postgres as a 500")
            let reserved = try await client.call(.post, "/api/tenants/\(tenant)/tokens", token: GatewayHarness.adminToken, json: ["name": "bootstrap"])
            #expect(reserved.status == .unprocessableContent)
            #expect(try await harness.count("api_tokens") == 2)
            let issued = try await client.call(.post, "/api/tenants/\(tenant)/tokens", token: GatewayHarness.adminToken, json: ["name": "deploy"])
            #expect(issued.status == .created)
            #expect(issued.header("Cache-Control") == "no-store", "a token is shown once; no cache keeps it")
        }
    }

    @Test func tokensExpireAreListedWithoutTheirSecretAndAreRevokedFromTheList() async throws {
        try await GatewayHarness.with { harness, client in
            let (tenant, first) = try await harness.tenant(client)
            let admin = GatewayHarness.adminToken
            let path = "/api/tenants/\(tenant)/tokens"
            // Expiry is checked on issue: not a date, in the past, or absurdly far ahead is refused.
            for bad: Any in ["tomorrow", "2020-01-01T00:00:00Z", "9999-01-01T00:00:00Z", 1_900_000_000, true] {
                let reply = try await client.call(.post, path, token: admin, json: ["name": "ci", "expires_at": bad])
                #expect(reply.status == .unprocessableContent, "expires_at \(bad)")
                #expect((reply.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "expires_at")
            }
            let expiry = Date().addingTimeInterval(3600)
            let stamp = ISO8601DateFormatter().string(from: expiry)
            let issued = try await client.call(.post, path, token: admin, json: ["name": "ci", "expires_at": stamp])
            #expect(issued.status == .created)
            #expect(issued.json["expires_at"] as? String != nil)
            let ciToken = try #require(issued.json["token"] as? String)
            let ciID = try #require(issued.json["id"] as? String)
            let me = try await client.call(.get, "/api/me", token: ciToken)
            #expect((me.json["token"] as? [String: Any])?["expires_at"] != nil, "a client can see when its token expires")

            // The listing: every token of the tenant, never the secret or its digest; last use shows.
            #expect(try await client.call(.get, "/api/stores", token: first).status == .ok)
            let listed = try await client.call(.get, path, token: admin)
            #expect(listed.status == .ok)
            #expect(!listed.text.contains(ciToken) && !listed.text.contains(first) && !listed.text.contains("hash"))
            let items = try #require(listed.json["items"] as? [[String: Any]])
            #expect(items.count == 2)
            let ci = try #require(items.first { $0["id"] as? String == ciID })
            #expect(ci["state"] as? String == "active" && ci["name"] as? String == "ci" && ci["expires_at"] != nil)
            let original = try #require(items.first { $0["id"] as? String != ciID })
            #expect(original["last_used_at"] != nil, "the token was just used")
            #expect(original["expires_at"] == nil, "no expiry was asked for")

            // Members may neither list nor revoke, and another tenant's listing is not theirs.
            #expect(try await client.call(.get, path, token: first).status == .forbidden)
            #expect(try await client.call(.get, "/api/tenants/\(UUID().uuidString.lowercased())/tokens", token: admin).status == .notFound)

            // Once past its expiry the token is refused everywhere and listed as expired.
            try await harness.postgres.query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = \(UUID(uuidString: ciID)!)")
            let refused = try await client.call(.get, "/api/stores", token: ciToken)
            #expect(refused.status == .unauthorized)
            #expect((refused.json["detail"] as? String)?.contains("expired") == true)
            #expect(try await client.call(.get, "/api/me", token: ciToken).status == .unauthorized)
            let afterExpiry = try await client.call(.get, path, token: admin).json["items"] as? [[String: Any]]
            #expect(afterExpiry?.first { $0["id"] as? String == ciID }?["state"] as? String == "expired")

            // Revoking the other one from the list ends it at once.
            let originalID = try #require(original["id"] as? String)
            #expect(try await client.call(.delete, "\(path)/\(originalID)", token: admin).status == .ok)
            #expect(try await client.call(.get, "/api/stores", token: first).status == .unauthorized)
            let afterRevoke = try await client.call(.get, path, token: admin).json["items"] as? [[String: Any]]
            let revoked = afterRevoke?.first { $0["id"] as? String == originalID }
            #expect(revoked?["state"] as? String == "revoked" && revoked?["revoked_at"] != nil)
        }
    }

    @Test func bodiesAreReadWithStrictJSONTypes() async throws {
        try await GatewayHarness.with { harness, client in
            let admin = GatewayHarness.adminToken
            let before = try await harness.count("tenants")
            // A boolean is not a number, a number is not a string, and a key given twice is ambiguous.
            let asBool = try await client.call(.post, "/api/tenants", token: admin, raw: #"{"name":"typed","store_limit":true}"#)
            #expect(asBool.status == .unprocessableContent)
            #expect((asBool.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "store_limit")
            let asNumber = try await client.call(.post, "/api/tenants", token: admin, raw: #"{"name":12}"#)
            #expect(asNumber.status == .unprocessableContent)
            let twice = try await client.call(.post, "/api/tenants", token: admin, raw: #"{"name":"typed","name":"admin2"}"#)
            #expect(twice.status == .badRequest)
            #expect((twice.json["detail"] as? String)?.contains("twice") == true)
            #expect(try await harness.count("tenants") == before, "nothing was created")
        }
    }
}

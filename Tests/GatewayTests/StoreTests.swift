import Foundation
import GatewayKit
import Hummingbird
import HummingbirdTesting
import Jobs
import Platform
import Postgres
import Testing
import TestSupport

@Suite struct StoreTests {
    @Test func createWritesStoreJobAndAuditInOneGoAndDispatches() async throws {
        try await GatewayHarness.with { harness, client in
            let (tenant, token) = try await harness.tenant(client)
            let reply = try await client.call(.post, "/api/stores", token: token, json: ["name": "my-shop", "engine": "woocommerce"], headers: ["X-Request-ID": "req-create-1"])
            #expect(reply.status == .accepted)
            let store = try #require(reply.json["store"] as? [String: Any])
            let job = try #require(reply.json["job"] as? [String: Any])
            let jobID = try #require(job["id"] as? String)
            #expect(reply.header("Location") == "/api/jobs/\(jobID)")
            #expect(store["status"] as? String == "provisioning")
            #expect(store["namespace"] as? String == "store-my-shop")
            #expect(store["tenant_id"] as? String == tenant)
            let urls = try #require(store["urls"] as? [String: String])
            #expect(urls["storefront"] == "http://my-shop.127.0.0.1.nip.io/")
            #expect(urls["admin"] == "http://my-shop.127.0.0.1.nip.io/wp-admin/")
            #expect(job["kind"] as? String == StoreJobKinds.createKind)
            #expect(job["status"] as? String == "queued")
            #expect((job["steps"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == StoreJobKinds.createSteps)
            #expect(job["progress"] as? Double == 0)
            // Dispatched after commit.
            let queued = try await harness.redis.send("LRANGE", harness.keys.queue, 0, -1).array?.compactMap(\.string)
            #expect(queued == [jobID])
            // Audited with the request ID.
            let audit = try #require(try await harness.postgres.query("SELECT action, target_id, request_id, tenant_id FROM audit_events WHERE action = 'store.create'").first)
            #expect(try audit.decode("target_id", as: String.self) == store["id"] as? String)
            #expect(try audit.decode("request_id", as: String.self) == "req-create-1")
            #expect(try audit.decode("tenant_id", as: UUID.self) == UUID(uuidString: tenant))
            // The job carries what the worker needs.
            let payload = try await harness.postgres.query("SELECT payload FROM jobs WHERE id = \(UUID(uuidString: jobID)!)").first!.decode("payload", as: PostgresJSON.self)
            #expect(try payload.decode([String: String].self)["namespace"] == "store-my-shop")

            let medusa = try await client.call(.post, "/api/stores", token: token, json: ["name": "med-shop", "engine": "medusa"])
            #expect(((medusa.json["store"] as? [String: Any])?["urls"] as? [String: String])?["admin"] == "http://med-shop.127.0.0.1.nip.io/app")
        }
    }

    @Test func liveNamesAreUniqueAcrossTenants() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, first) = try await harness.tenant(client)
            let (_, second) = try await harness.tenant(client)
            #expect(try await client.call(.post, "/api/stores", token: first, json: ["name": "taken", "engine": "medusa"]).status == .accepted)
            let clash = try await client.call(.post, "/api/stores", token: second, json: ["name": "taken", "engine": "medusa"])
            #expect(clash.status == .conflict)
            #expect(clash.json["type"] as? String == "https://storefleet.dev/problems/name-taken")
            #expect(try await harness.count("stores") == 1)
            #expect(try await harness.count("jobs") == 1)
        }
    }

    @Test func getAndListShowOwnStoresWithFilterAndCursorPagination() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let (_, other) = try await harness.tenant(client)
            var ids: [String] = []
            for name in ["alpha", "bravo", "charlie"] {
                let reply = try await client.call(.post, "/api/stores", token: token, json: ["name": name, "engine": "medusa"])
                ids.append(try #require((reply.json["store"] as? [String: Any])?["id"] as? String))
            }
            _ = try await client.call(.post, "/api/stores", token: other, json: ["name": "other-shop", "engine": "medusa"])
            try await harness.postgres.query("UPDATE stores SET status = 'ready' WHERE id = \(UUID(uuidString: ids[0])!)")

            let page1 = try await client.call(.get, "/api/stores?limit=2", token: token)
            let items1 = try #require(page1.json["items"] as? [[String: Any]])
            #expect(items1.compactMap { $0["name"] as? String } == ["charlie", "bravo"])
            let cursor = try #require(page1.json["next_cursor"] as? String)
            let page2 = try await client.call(.get, "/api/stores?limit=2&cursor=\(cursor)", token: token)
            #expect((page2.json["items"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["alpha"])
            #expect(page2.json["next_cursor"] == nil || page2.json["next_cursor"] is NSNull)
            // Another tenant's store ID is no cursor: it pages nothing, so it tells nothing about that store.
            let theirs = try await client.call(.get, "/api/stores", token: other)
            let theirID = try #require((theirs.json["items"] as? [[String: Any]])?.first?["id"] as? String)
            let probed = try await client.call(.get, "/api/stores?cursor=\(theirID)", token: token)
            #expect((probed.json["items"] as? [[String: Any]])?.isEmpty == true)

            let ready = try await client.call(.get, "/api/stores?status=ready", token: token)
            #expect((ready.json["items"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["alpha"])
            #expect(try await client.call(.get, "/api/stores?status=bogus", token: token).status == .unprocessableContent)
            #expect(try await client.call(.get, "/api/stores?limit=0", token: token).status == .unprocessableContent)

            // Admins see everyone's.
            let all = try await client.call(.get, "/api/stores", token: GatewayHarness.adminToken)
            #expect((all.json["items"] as? [[String: Any]])?.count == 4)

            let detail = try await client.call(.get, "/api/stores/\(ids[1])", token: token)
            #expect(detail.status == .ok)
            #expect(detail.json["name"] as? String == "bravo")
            #expect((detail.json["latest_job"] as? [String: Any])?["kind"] as? String == StoreJobKinds.createKind)
        }
    }

    @Test func deleteCancelsTheCreateQueuesADeleteAndIsIdempotent() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "doomed", "engine": "woocommerce"])
            let storeID = try #require((created.json["store"] as? [String: Any])?["id"] as? String)
            let createJob = try #require((created.json["job"] as? [String: Any])?["id"] as? String)

            let deleted = try await client.call(.delete, "/api/stores/\(storeID)", token: token)
            #expect(deleted.status == .accepted)
            #expect((deleted.json["store"] as? [String: Any])?["status"] as? String == "deleting")
            let deleteJob = try #require((deleted.json["job"] as? [String: Any])?["id"] as? String)
            #expect((deleted.json["job"] as? [String: Any])?["kind"] as? String == StoreJobKinds.deleteKind)
            #expect(deleted.header("Location") == "/api/jobs/\(deleteJob)")
            let create = try await client.call(.get, "/api/jobs/\(createJob)", token: token)
            #expect(create.json["status"] as? String == "cancelled")

            // Again while deleting, and again once deleted: the same delete job, nothing new.
            let again = try await client.call(.delete, "/api/stores/\(storeID)", token: token)
            #expect(again.status == .accepted)
            #expect((again.json["job"] as? [String: Any])?["id"] as? String == deleteJob)
            try await harness.postgres.query("UPDATE stores SET status = 'deleted', deleted_at = now() WHERE id = \(UUID(uuidString: storeID)!)")
            let gone = try await client.call(.delete, "/api/stores/\(storeID)", token: token)
            #expect(gone.status == .accepted)
            #expect((gone.json["store"] as? [String: Any])?["status"] as? String == "deleted")
            #expect(try await harness.count("jobs") == 2)
            // A deleted store frees its name.
            #expect(try await client.call(.post, "/api/stores", token: token, json: ["name": "doomed", "engine": "woocommerce"]).status == .accepted)
        }
    }

    @Test func retryRerunsAFailedCreateFromItsFailedStep() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "flaky", "engine": "medusa"])
            let storeID = try #require((created.json["store"] as? [String: Any])?["id"] as? String)
            let jobID = try #require((created.json["job"] as? [String: Any])?["id"] as? String)
            let store = UUID(uuidString: storeID)!, job = UUID(uuidString: jobID)!

            // Retrying a store that has not failed is refused.
            #expect(try await client.call(.post, "/api/stores/\(storeID)/retry", token: token).status == .conflict)

            // What a worker leaves behind when `release` (step 3) fails for good.
            try await harness.postgres.query("""
                UPDATE jobs SET status = 'failed', current_step = 3, error = 'helm failed', finished_at = now() WHERE id = \(job)
                """)
            try await harness.postgres.query("UPDATE job_steps SET status = 'succeeded', attempts = 1 WHERE job_id = \(job) AND position < 3")
            try await harness.postgres.query("UPDATE job_steps SET status = 'failed', attempts = 3, message = 'helm failed' WHERE job_id = \(job) AND position = 3")
            try await harness.postgres.query("UPDATE job_steps SET status = 'cancelled' WHERE job_id = \(job) AND position > 3")
            try await harness.postgres.query("UPDATE stores SET status = 'failed', last_error = 'helm failed' WHERE id = \(store)")
            _ = try await harness.redis.send("DEL", harness.keys.queue)

            let retried = try await client.call(.post, "/api/stores/\(storeID)/retry", token: token)
            #expect(retried.status == .accepted)
            #expect((retried.json["store"] as? [String: Any])?["status"] as? String == "provisioning")
            let jobView = try #require(retried.json["job"] as? [String: Any])
            #expect(jobView["id"] as? String == jobID)
            #expect(jobView["status"] as? String == "queued")
            #expect(jobView["current_step"] as? Int == 3)
            let steps = try #require(jobView["steps"] as? [[String: Any]])
            #expect(steps.compactMap { $0["status"] as? String } == ["succeeded", "succeeded", "succeeded", "pending", "pending", "pending"])
            #expect(steps[3]["attempts"] as? Int == 0, "a retried step starts a fresh budget of attempts")
            let queued = try await harness.redis.send("LRANGE", harness.keys.queue, 0, -1).array?.compactMap(\.string)
            #expect(queued == [jobID])
            #expect(try await harness.count("jobs") == 1)
            let actions = try await harness.postgres.query("SELECT action FROM audit_events WHERE action LIKE 'store.%' ORDER BY id").rows.map { try $0.decode("action", as: String.self) }
            #expect(actions == ["store.create", "store.retry"])
        }
    }

    @Test func jobsShowStepsAndOnRequestTheirHistoryAndListPerStore() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "history", "engine": "medusa"])
            let storeID = try #require((created.json["store"] as? [String: Any])?["id"] as? String)
            let jobID = try #require((created.json["job"] as? [String: Any])?["id"] as? String)
            let plain = try await client.call(.get, "/api/jobs/\(jobID)", token: token)
            #expect(plain.status == .ok)
            #expect(plain.json["transitions"] == nil)
            let full = try await client.call(.get, "/api/jobs/\(jobID)?include=transitions", token: token)
            #expect((full.json["transitions"] as? [[String: Any]])?.first?["status"] as? String == "queued")
            #expect(try await client.call(.get, "/api/jobs/\(jobID)?include=everything", token: token).status == .unprocessableContent)
            let list = try await client.call(.get, "/api/jobs?store=\(storeID)", token: token)
            #expect((list.json["items"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [jobID])
            #expect(try await client.call(.get, "/api/jobs", token: token).status == .unprocessableContent)
            let missing = UUID()
            let notFound = try await client.call(.get, "/api/jobs/\(missing.uuidString)", token: token)
            #expect(notFound.status == .notFound)
            #expect((notFound.json["detail"] as? String)?.contains(missing.uuidString.lowercased()) == true, "IDs in messages are lowercase: \(notFound.text)")
            #expect(try await client.call(.get, "/api/jobs/not-a-uuid", token: token).status == .notFound)
        }
    }

    /// Another tenant's store, jobs and audit answer as if they did not exist: 404, never 403, so IDs
    /// cannot be probed; and nothing is changed.
    @Test func crossTenantAccessAlwaysFailsAsNotFound() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, owner) = try await harness.tenant(client)
            let (_, intruder) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: owner, json: ["name": "private", "engine": "medusa"])
            let storeID = try #require((created.json["store"] as? [String: Any])?["id"] as? String)
            let jobID = try #require((created.json["job"] as? [String: Any])?["id"] as? String)
            try await harness.postgres.query("UPDATE stores SET status = 'failed' WHERE id = \(UUID(uuidString: storeID)!)")
            let before = try await harness.count("audit_events")

            let attempts: [(HTTPRequest.Method, String)] = [
                (.get, "/api/stores/\(storeID)"), (.delete, "/api/stores/\(storeID)"), (.post, "/api/stores/\(storeID)/retry"),
                (.get, "/api/jobs/\(jobID)"), (.get, "/api/jobs/\(jobID)?include=transitions"), (.get, "/api/jobs?store=\(storeID)"),
            ]
            for (method, uri) in attempts {
                let reply = try await client.call(method, uri, token: intruder)
                #expect(reply.status == .notFound, "\(method) \(uri)")
                #expect(reply.json["type"] as? String == "https://storefleet.dev/problems/not-found")
            }
            let list = try await client.call(.get, "/api/stores", token: intruder)
            #expect((list.json["items"] as? [[String: Any]])?.isEmpty == true)
            let audit = try await client.call(.get, "/api/audit", token: intruder)
            #expect((audit.json["items"] as? [[String: Any]])?.contains { $0["target_id"] as? String == storeID } == false)
            #expect(try await harness.count("audit_events") == before)
            #expect(try await harness.postgres.query("SELECT status FROM stores").first!.decode("status", as: String.self) == "failed")
            #expect(try await harness.count("jobs") == 1)
        }
    }

    @Test func auditShowsWhoDidWhatForTheirTenant() async throws {
        try await GatewayHarness.with { harness, client in
            let (tenant, token) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "audited", "engine": "medusa"])
            let storeID = try #require((created.json["store"] as? [String: Any])?["id"] as? String)
            _ = try await client.call(.delete, "/api/stores/\(storeID)", token: token)
            let audit = try await client.call(.get, "/api/audit", token: token)
            let items = try #require(audit.json["items"] as? [[String: Any]])
            #expect(items.compactMap { $0["action"] as? String } == ["store.delete", "store.create", "token.issued", "tenant.create"])
            #expect(items.allSatisfy { $0["tenant_id"] as? String == tenant && $0["request_id"] is String })

            // What a platform admin does to the member's store is in the member's trail, without the
            // admin's token or address.
            let other = try await client.call(.post, "/api/stores", token: token, json: ["name": "audited-2", "engine": "medusa"])
            let otherID = try #require((other.json["store"] as? [String: Any])?["id"] as? String)
            _ = try await client.call(.delete, "/api/stores/\(otherID)", token: GatewayHarness.adminToken)
            let member = try #require(try await client.call(.get, "/api/audit", token: token).json["items"] as? [[String: Any]])
            let byAdmin = try #require(member.first)
            #expect(byAdmin["action"] as? String == "store.delete" && byAdmin["by_admin"] as? Bool == true)
            func absent(_ value: Any?) -> Bool { value == nil || value is NSNull }
            #expect(absent(byAdmin["token_id"]) && absent(byAdmin["client_ip"]))
            // The admin also made the tenant and issued its token; the member's own actions keep their token.
            #expect(member.filter { $0["by_admin"] as? Bool == true }.compactMap { $0["action"] as? String } == ["store.delete", "token.issued", "tenant.create"])
            #expect(member.filter { absent($0["by_admin"]) }.allSatisfy { $0["token_id"] is String })
            let admin = try #require(try await client.call(.get, "/api/audit", token: GatewayHarness.adminToken).json["items"] as? [[String: Any]])
            #expect(admin.first?["token_id"] is String, "admins still see who did it")
        }
    }
}

import Foundation
import GatewayKit
import Hummingbird
import HummingbirdTesting
import Postgres
import ServiceRuntime
import Testing
import TestSupport

@Suite struct IdempotencyTests {
    @Test func sameKeyAndBodyReplaysTheOriginalResponse() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let body = ["name": "once", "engine": "medusa"]
            let first = try await client.call(.post, "/api/stores", token: token, json: body, headers: ["Idempotency-Key": "key-1"])
            let second = try await client.call(.post, "/api/stores", token: token, json: body, headers: ["Idempotency-Key": "key-1"])
            #expect(first.status == .accepted)
            #expect(second.status == .accepted)
            #expect(second.text == first.text)
            #expect(second.header("Location") == first.header("Location"))
            #expect(second.header("Idempotent-Replayed") == "true")
            #expect(try await harness.count("stores") == 1)
            #expect(try await harness.count("jobs") == 1)

            // The same key with another body is refused, and so writes nothing.
            let other = try await client.call(.post, "/api/stores", token: token, json: ["name": "twice", "engine": "medusa"], headers: ["Idempotency-Key": "key-1"])
            #expect(other.status == .unprocessableContent)
            #expect(other.json["type"] as? String == "https://storefleet.dev/problems/idempotency-key-reused")
            #expect(try await harness.count("stores") == 1)

            // Keys are per tenant: another tenant's identical key is its own.
            let (_, second2) = try await harness.tenant(client)
            let theirs = try await client.call(.post, "/api/stores", token: second2, json: ["name": "theirs", "engine": "medusa"], headers: ["Idempotency-Key": "key-1"])
            #expect(theirs.status == .accepted)
        }
    }

    @Test func aRepeatWhileTheFirstIsInFlightGets409() async throws {
        try await GatewayHarness.with { harness, client in
            let (tenant, token) = try await harness.tenant(client)
            let body = #"{"engine":"medusa","name":"busy"}"#
            // A first request still being handled: its row is in flight.
            let hash = APIToken.hash("POST /api/stores\n" + body)  // the same SHA-256 the gateway takes of method, path and body
            try await harness.postgres.query("""
                INSERT INTO idempotency_keys (tenant_id, key, request_hash, status, locked_until, expires_at)
                VALUES (\(UUID(uuidString: tenant)!), 'key-busy', \(hash), 'in_flight', now() + interval '1 minute', now() + interval '1 day')
                """)
            let repeatReply = try await client.call(.post, "/api/stores", token: token, raw: body, headers: ["Idempotency-Key": "key-busy"])
            #expect(repeatReply.status == .conflict)
            #expect(repeatReply.json["type"] as? String == "https://storefleet.dev/problems/idempotency-in-flight")
            #expect(try await harness.count("stores") == 0)
        }
    }

    /// A gateway stalls mid-request past the key's lock; a retry takes the key over. The stalled request
    /// must not commit its change then (the retry does it), and the key ends with the change that was made.
    @Test func aRequestWhoseKeyWasTakenOverCommitsNothing() async throws {
        try await GatewayHarness.with { harness, client in
            let (tenant, token) = try await harness.tenant(client)
            let tenantID = try #require(UUID(uuidString: tenant))
            let body = ["name": "stalled", "engine": "medusa"]
            func waiters() async throws -> Int {
                try await harness.postgres.query("""
                    SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()
                    """).first!.decode("n", as: Int.self)
            }
            // An uncommitted store of the same name (a concurrent create) stalls the request inside its
            // transaction, at its own insert, after it took its key and before it seals it.
            struct Release: Error {}
            let stalledTask = LockedState<Task<Reply, any Error>?>(nil)
            do {
                try await harness.postgres.transaction { connection in
                    try await connection.query("""
                        INSERT INTO stores (id, tenant_id, name, engine, status, namespace)
                        VALUES (\(UUID()), \(tenantID), 'stalled', 'medusa', 'provisioning', 'store-stalled')
                        """)
                    let first = Task { try await client.call(.post, "/api/stores", token: token, json: body, headers: ["Idempotency-Key": "slow"]) }
                    stalledTask.withLock { $0 = first }
                    try await eventually(within: 10) { guard try await waiters() == 1 else { throw CancellationError() } }
                    // Its lock runs out (60 s in real life) and a retry takes the key over: a new owner.
                    try await harness.postgres.query("""
                        UPDATE idempotency_keys SET owner = gen_random_uuid(), locked_until = now() - interval '1 second' WHERE key = 'slow'
                        """)
                    throw Release()  // the concurrent create rolls back; the stalled request goes on
                }
            } catch is Release {}
            let stalled = try await #require(stalledTask.withLock { $0 }).value
            #expect(stalled.status == .conflict, "\(stalled.text)")
            #expect(stalled.json["type"] as? String == "https://storefleet.dev/problems/idempotency-in-flight")
            #expect(try await harness.count("stores") == 0, "the stalled request committed nothing")
            #expect(try await harness.count("jobs") == 0)
            // The client retries (the taker-over died too, its lock long gone): the change is made once,
            // and any later retry replays it.
            let retried = try await client.call(.post, "/api/stores", token: token, json: body, headers: ["Idempotency-Key": "slow"])
            #expect(retried.status == .accepted, "\(retried.text)")
            #expect(try await harness.count("stores") == 1)
            let again = try await client.call(.post, "/api/stores", token: token, json: body, headers: ["Idempotency-Key": "slow"])
            #expect(again.status == .accepted && again.text == retried.text && again.header("Idempotent-Replayed") == "true")
        }
    }

    @Test func theResponseIsSealedWithTheChangeInOneTransaction() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "sealed", "engine": "medusa"], headers: ["Idempotency-Key": "one-tx"])
            #expect(created.status == .accepted)
            // The key's row and the store's row were written by the same transaction.
            let row = try #require(try await harness.postgres.query("""
                SELECT (SELECT xmin::text FROM idempotency_keys WHERE key = 'one-tx') = (SELECT xmin::text FROM stores WHERE name = 'sealed') AS same,
                       (SELECT status FROM idempotency_keys WHERE key = 'one-tx') AS status
                """).first)
            #expect(try row.decode("same", as: Bool.self))
            #expect(try row.decode("status", as: String.self) == "complete")
        }
    }

    @Test func aRefusedRequestReleasesItsKey() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            _ = try await client.call(.post, "/api/stores", token: token, json: ["name": "held", "engine": "medusa"])
            let clash = try await client.call(.post, "/api/stores", token: token, json: ["name": "held", "engine": "medusa"], headers: ["Idempotency-Key": "k"])
            #expect(clash.status == .conflict)
            #expect(try await harness.count("idempotency_keys") == 0)
        }
    }

    @Test func aThousandConcurrentIdenticalRequestsCreateOneStoreAndOneJob() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<1000 {
                    group.addTask {
                        let reply = try await client.call(.post, "/api/stores", token: token, json: ["name": "popular", "engine": "woocommerce"], headers: ["Idempotency-Key": "storm"])
                        return Int(reply.status.code)
                    }
                }
                var statuses: [Int: Int] = [:]
                for try await status in group { statuses[status, default: 0] += 1 }
                return statuses
            }
            #expect(Set(statuses.keys).isSubset(of: [202, 409]), "\(statuses)")
            #expect(statuses[202, default: 0] >= 1)
            #expect(try await harness.count("stores") == 1)
            #expect(try await harness.count("jobs") == 1)
            #expect(try await harness.redis.send("LLEN", harness.keys.queue).int == 1)
            let creates = try await harness.postgres.query("SELECT count(*) AS n FROM audit_events WHERE action = 'store.create'").first!.decode("n", as: Int.self)
            #expect(creates == 1)
            // Afterwards, the key replays.
            let after = try await client.call(.post, "/api/stores", token: token, json: ["name": "popular", "engine": "woocommerce"], headers: ["Idempotency-Key": "storm"])
            #expect(after.status == .accepted)
            #expect(after.header("Idempotent-Replayed") == "true")
        }
    }

    @Test func expiredKeysArePurgedAndCanBeReused() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            _ = try await client.call(.post, "/api/stores", token: token, json: ["name": "old-one", "engine": "medusa"], headers: ["Idempotency-Key": "old"])
            _ = try await client.call(.post, "/api/stores", token: token, json: ["name": "new-one", "engine": "medusa"], headers: ["Idempotency-Key": "new"])
            try await harness.postgres.query("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'old'")
            // An expired key is a new key: it may carry another request.
            let reused = try await client.call(.post, "/api/stores", token: token, json: ["name": "old-two", "engine": "medusa"], headers: ["Idempotency-Key": "old"])
            #expect(reused.status == .accepted)
            try await harness.postgres.query("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'old'")
            #expect(try await harness.gateway.purgeExpiredIdempotencyKeys() == 1)
            let left = try await harness.postgres.query("SELECT key FROM idempotency_keys").rows.map { try $0.decode("key", as: String.self) }
            #expect(left == ["new"])
        }
    }

    @Test func deleteAcceptsIdempotencyKeys() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "bye", "engine": "medusa"])
            let storeID = try #require((created.json["store"] as? [String: Any])?["id"] as? String)
            let first = try await client.call(.delete, "/api/stores/\(storeID)", token: token, headers: ["Idempotency-Key": "del"])
            let second = try await client.call(.delete, "/api/stores/\(storeID)", token: token, headers: ["Idempotency-Key": "del"])
            #expect(first.status == .accepted)
            #expect(second.text == first.text)
            #expect(second.header("Idempotent-Replayed") == "true")
        }
    }

    /// A late retry of an older change must replay its answer, not overwrite a newer change.
    @Test func aLateRetryOfATenantChangeReplaysAndOverwritesNothing() async throws {
        try await GatewayHarness.with { harness, client in
            let (tenant, _) = try await harness.tenant(client)
            let admin = GatewayHarness.adminToken
            let first = try await client.call(.patch, "/api/tenants/\(tenant)", token: admin, json: ["store_limit": 7], headers: ["Idempotency-Key": "limit-7"])
            #expect(first.status == .ok && first.json["store_limit"] as? Int == 7)
            let newer = try await client.call(.patch, "/api/tenants/\(tenant)", token: admin, json: ["store_limit": 9], headers: ["Idempotency-Key": "limit-9"])
            #expect(newer.status == .ok)
            let late = try await client.call(.patch, "/api/tenants/\(tenant)", token: admin, json: ["store_limit": 7], headers: ["Idempotency-Key": "limit-7"])
            #expect(late.header("Idempotent-Replayed") == "true" && late.text == first.text)
            let limit = try await harness.postgres.query("SELECT store_limit FROM tenants WHERE id = \(UUID(uuidString: tenant)!)").first!.decode("store_limit", as: Int.self)
            #expect(limit == 9, "the newer change stands")
            let reused = try await client.call(.patch, "/api/tenants/\(tenant)", token: admin, json: ["store_limit": 8], headers: ["Idempotency-Key": "limit-7"])
            #expect(reused.status == .unprocessableContent)
        }
    }
}

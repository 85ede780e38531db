import Foundation
import GatewayKit
import Hummingbird
import HummingbirdTesting
import Jobs
import Platform
import Postgres
import Testing
import TestSupport

/// POST /api/rollouts and its reads, resume and cancel, as an administrator (and a member) sees them.
@Suite struct RolloutTests {
    func stores(_ harness: GatewayHarness, _ client: any TestClientProtocol, token: String, names: [String], engine: String = "woocommerce") async throws -> [String] {
        var ids: [String] = []
        for name in names {
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": name, "engine": engine])
            ids.append(try #require((created.json["store"] as? [String: Any])?["id"] as? String, "\(created.text)"))
        }
        try await harness.postgres.query("UPDATE jobs SET status = 'succeeded', finished_at = now()")
        try await harness.postgres.query("UPDATE stores SET status = 'ready'")
        return ids
    }

    @Test("a rollout takes the selected live stores in waves, canary first, and starts its job; members may not")
    func createSelectsAndPlansWaves() async throws {
        try await GatewayHarness.with { harness, client in
            let (tenant, token) = try await harness.tenant(client, storeLimit: 10)
            _ = try await stores(harness, client, token: token, names: ["fleet-a", "fleet-b", "fleet-c", "fleet-d", "fleet-e"])
            _ = try await stores(harness, client, token: token, names: ["fleet-m"], engine: "medusa")
            let member = try await client.call(.post, "/api/rollouts", token: token, json: ["target": ["app_version": "6.8.4-php8.3-apache"]])
            #expect(member.status == .forbidden)

            let reply = try await client.call(.post, "/api/rollouts", token: GatewayHarness.adminToken, json: [
                "target": ["app_version": "6.8.4-php8.3-apache"], "selector": ["engine": "woocommerce", "tenant_id": tenant],
                "strategy": ["canary": 1, "wave_size": 2, "max_parallel": 2],
            ])
            #expect(reply.status == .accepted, "\(reply.text)")
            #expect(reply.json["stores"] as? Int == 5, "the medusa store is not selected")
            let waves = try #require(reply.json["waves"] as? [[String: Any]])
            #expect(waves.map { $0["stores"] as? Int } == [1, 2, 2])
            #expect(waves.first?["canary"] as? Bool == true)
            #expect(reply.json["status"] as? String == "running")
            let id = try #require(reply.json["id"] as? String)
            #expect(reply.header("Location") == "/api/rollouts/\(id)")
            let job = try #require(try await harness.postgres.query("SELECT kind, store_id FROM jobs WHERE id = (SELECT job_id FROM rollouts WHERE id = \(UUID(uuidString: id)!))").first)
            #expect(try job.decode("kind", as: String.self) == StoreJobKinds.rolloutKind)
            #expect(try job.decode("store_id", as: UUID?.self) == nil)

            // One at a time; a selection of nothing is refused.
            let second = try await client.call(.post, "/api/rollouts", token: GatewayHarness.adminToken, json: ["target": ["app_version": "6.9.0"]])
            #expect(second.status == .conflict)
            #expect(second.json["type"] as? String == "https://storefleet.dev/problems/rollout-active")
            try await harness.postgres.query("UPDATE rollouts SET status = 'completed'")
            let none = try await client.call(.post, "/api/rollouts", token: GatewayHarness.adminToken, json: ["target": ["app_version": "6.9.0"], "selector": ["plan": "large"]])
            #expect(none.status == .conflict)
            #expect(none.json["type"] as? String == "https://storefleet.dev/problems/empty-selection")

            let listed = try #require(try await client.call(.get, "/api/rollouts", token: GatewayHarness.adminToken).json["items"] as? [[String: Any]])
            #expect(listed.count == 1 && listed[0]["id"] as? String == id)
            #expect(try await client.call(.get, "/api/rollouts/\(id)", token: token).status == .forbidden)
        }
    }

    @Test("bad rollout requests are refused with the field and write nothing", arguments: [
        (#"{"selector":{}}"#, "target"), (#"{"target":{}}"#, "target"), (#"{"target":{"app_version":"-x"}}"#, "target.app_version"),
        (#"{"target":{"app_version":"1"},"strategy":{"wave_size":0}}"#, "strategy.wave_size"),
        (#"{"target":{"app_version":"1"},"strategy":{"wave_size":2,"wave_percent":10}}"#, "strategy.wave_size"),
        (#"{"target":{"app_version":"1"},"strategy":{"canary":true}}"#, "strategy.canary"),
        (#"{"target":{"app_version":"1"},"selector":{"engine":"joomla"}}"#, "selector.engine"),
        (#"{"target":{"app_version":"1"},"selector":{"store_ids":["nope"]}}"#, "selector.store_ids"),
        (#"{"target":{"app_version":"0","chart_version":"0.0.0"},"selector":{"engine":"medusa","store_ids":["e3e70682-c209-1cac-a29f-6fbed82c07cd",""]}}"#, "selector.store_ids"),
        (#"{"target":{"app_version":"1"},"selector":{"colour":"red"}}"#, "selector.colour"),
    ])
    func refusals(_ body: String, _ field: String) async throws {
        try await GatewayHarness.with { harness, client in
            let reply = try await client.call(.post, "/api/rollouts", token: GatewayHarness.adminToken, raw: body)
            #expect(reply.status == .unprocessableContent, "\(reply.text)")
            #expect(((reply.json["errors"] as? [[String: Any]])?.map { $0["field"] as? String })?.contains(field) == true, "\(reply.text)")
            #expect(try await harness.count("rollouts") == 0)
        }
    }

    @Test("a halted rollout resumes past the wave it halted at, or is cancelled with its pending stores skipped")
    func resumeAndCancel() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client, storeLimit: 10)
            _ = try await stores(harness, client, token: token, names: ["halt-a", "halt-b", "halt-c"])
            let reply = try await client.call(.post, "/api/rollouts", token: GatewayHarness.adminToken, json: ["target": ["app_version": "9.9.9"]])
            let id = UUID(uuidString: try #require(reply.json["id"] as? String))!
            #expect(try await client.call(.post, "/api/rollouts/\(id.lower)/resume", token: GatewayHarness.adminToken).status == .conflict, "it is running")
            // As the job leaves a rollout halted at its canary.
            try await harness.postgres.query("UPDATE rollout_stores SET status = 'rolled-back', message = 'readiness failed' WHERE rollout_id = \(id) AND wave = 0")
            try await harness.postgres.query("UPDATE jobs SET status = 'failed', error = 'halted', finished_at = now() WHERE id = (SELECT job_id FROM rollouts WHERE id = \(id))")
            try await harness.postgres.query("UPDATE rollouts SET status = 'halted', reason = 'halted after the canary wave' WHERE id = \(id)")
            let halted = try await client.call(.get, "/api/rollouts/\(id.lower)", token: GatewayHarness.adminToken)
            #expect((halted.json["failed_stores"] as? [[String: Any]])?.first?["message"] as? String == "readiness failed")

            let resumed = try await client.call(.post, "/api/rollouts/\(id.lower)/resume", token: GatewayHarness.adminToken)
            #expect(resumed.status == .accepted, "\(resumed.text)")
            #expect(resumed.json["status"] as? String == "running")
            let row = try #require(try await harness.postgres.query("SELECT accepted_through FROM rollouts WHERE id = \(id)").first)
            #expect(try row.decode("accepted_through", as: Int.self) == 0, "the canary's failure is accepted")
            let job = try #require(try await harness.postgres.query("SELECT status FROM jobs WHERE id = (SELECT job_id FROM rollouts WHERE id = \(id))").first)
            #expect(try job.decode("status", as: String.self) == "queued")

            // Halted again, then cancelled: the stores not yet started are skipped.
            try await harness.postgres.query("UPDATE jobs SET status = 'failed', finished_at = now() WHERE id = (SELECT job_id FROM rollouts WHERE id = \(id))")
            try await harness.postgres.query("UPDATE rollouts SET status = 'halted' WHERE id = \(id)")
            let cancelled = try await client.call(.post, "/api/rollouts/\(id.lower)/cancel", token: GatewayHarness.adminToken)
            #expect(cancelled.status == .accepted)
            #expect(cancelled.json["status"] as? String == "cancelled")
            #expect((cancelled.json["counts"] as? [String: Int])?["skipped"] == 2)
            #expect(try await client.call(.post, "/api/rollouts/\(id.lower)/cancel", token: GatewayHarness.adminToken).status == .conflict)
            let audit = try await harness.postgres.query("SELECT action FROM audit_events WHERE action LIKE 'rollout.%' ORDER BY id").rows.map { try $0.decode("action", as: String.self) }
            #expect(audit == ["rollout.create", "rollout.resume", "rollout.cancel"])
        }
    }

    @Test("a rollout waiting for a worker is cancelled at once; a selection of both engines is refused; resuming a halt mid-wave keeps that wave's threshold")
    func cancelWaitingMixedEnginesAndMidWaveResume() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client, storeLimit: 10)
            _ = try await stores(harness, client, token: token, names: ["mix-a", "mix-b", "mix-c"])
            _ = try await stores(harness, client, token: token, names: ["mix-m"], engine: "medusa")
            let mixed = try await client.call(.post, "/api/rollouts", token: GatewayHarness.adminToken, json: ["target": ["app_version": "9.9.9"]])
            #expect(mixed.status == .conflict)
            #expect((mixed.json["detail"] as? String)?.contains("several engines") == true, "\(mixed.text)")

            // No worker runs here: the job waits, and a cancel ends it, and the rollout, at once.
            let waiting = try await client.call(.post, "/api/rollouts", token: GatewayHarness.adminToken,
                                                json: ["target": ["app_version": "9.9.9"], "selector": ["engine": "woocommerce"]])
            let id = UUID(uuidString: try #require(waiting.json["id"] as? String))!
            let cancelled = try await client.call(.post, "/api/rollouts/\(id.lower)/cancel", token: GatewayHarness.adminToken)
            #expect(cancelled.status == .accepted)
            #expect(cancelled.json["status"] as? String == "cancelled", "\(cancelled.text)")
            #expect((cancelled.json["counts"] as? [String: Int])?["skipped"] == 3)
            let next = try await client.call(.post, "/api/rollouts", token: GatewayHarness.adminToken,
                                             json: ["target": ["app_version": "9.9.9"], "selector": ["engine": "woocommerce"], "strategy": ["canary": 1, "wave_size": 2]])
            #expect(next.status == .accepted, "a cancelled rollout does not block the next: \(next.text)")

            // Halted by an operator with wave 1 half done: resuming accepts the canary's wave only.
            let second = UUID(uuidString: try #require(next.json["id"] as? String))!
            try await harness.postgres.query("UPDATE rollout_stores SET status = 'updated' WHERE rollout_id = \(second) AND wave = 0")
            try await harness.postgres.query("""
                UPDATE rollout_stores SET status = 'rolled-back' WHERE rollout_id = \(second) AND wave = 1
                  AND store_id = (SELECT store_id FROM rollout_stores WHERE rollout_id = \(second) AND wave = 1 ORDER BY position LIMIT 1)
                """)
            try await harness.postgres.query("UPDATE jobs SET status = 'failed', finished_at = now() WHERE id = (SELECT job_id FROM rollouts WHERE id = \(second))")
            try await harness.postgres.query("UPDATE rollouts SET status = 'halted' WHERE id = \(second)")
            #expect(try await client.call(.post, "/api/rollouts/\(second.lower)/resume", token: GatewayHarness.adminToken).status == .accepted)
            let accepted = try await harness.postgres.query("SELECT accepted_through FROM rollouts WHERE id = \(second)").first!.decode("accepted_through", as: Int.self)
            #expect(accepted == 0, "wave 1 is under way: its threshold still holds")
        }
    }
}

import Foundation
import GatewayKit
import Hummingbird
import HummingbirdTesting
import Jobs
import Platform
import Postgres
import ServiceRuntime
import Testing
import TestSupport

/// PATCH /api/stores/:id, revisions, plans and per-tenant allowed plans, as a client sees them.
@Suite struct StoreUpdateTests {
    /// A store as its create job leaves it: ready, revision 1 applied.
    func readyStore(_ harness: GatewayHarness, _ client: any TestClientProtocol, token: String, name: String, plan: String? = nil) async throws -> String {
        var body: [String: Any] = ["name": name, "engine": "woocommerce"]
        if let plan { body["plan"] = plan }
        let created = try await client.call(.post, "/api/stores", token: token, json: body)
        #expect(created.status == .accepted, "\(created.text)")
        let id = try #require((created.json["store"] as? [String: Any])?["id"] as? String)
        let uuid = UUID(uuidString: id)!
        try await harness.postgres.query("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE store_id = \(uuid)")
        try await harness.postgres.query("UPDATE stores SET status = 'ready' WHERE id = \(uuid)")
        try await harness.postgres.query("UPDATE store_revisions SET outcome = 'applied', finished_at = now() WHERE store_id = \(uuid)")
        return id
    }

    @Test("a create takes a plan (the default when none is named) and records revision 1")
    func createRecordsPlanAndFirstRevision() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let plain = try await client.call(.post, "/api/stores", token: token, json: ["name": "plain-shop", "engine": "medusa"])
            let store = try #require(plain.json["store"] as? [String: Any])
            #expect(store["plan"] as? String == "small" && store["revision"] as? Int == 1)
            let sized = try await client.call(.post, "/api/stores", token: token, json: ["name": "big-shop", "engine": "woocommerce", "plan": "large"])
            #expect((sized.json["store"] as? [String: Any])?["plan"] as? String == "large")
            let id = try #require((sized.json["store"] as? [String: Any])?["id"] as? String)
            let revisions = try await client.call(.get, "/api/stores/\(id)/revisions", token: token)
            let items = try #require(revisions.json["items"] as? [[String: Any]])
            #expect(items.count == 1)
            #expect(items[0]["revision"] as? Int == 1 && items[0]["outcome"] as? String == "pending")
            #expect((items[0]["spec"] as? [String: Any])?["plan"] as? String == "large")
            #expect(items[0]["job_id"] as? String == (sized.json["job"] as? [String: Any])?["id"] as? String)

            let unknown = try await client.call(.post, "/api/stores", token: token, json: ["name": "odd-shop", "engine": "medusa", "plan": "huge"])
            #expect(unknown.status == .unprocessableContent)
            #expect(((unknown.json["errors"] as? [[String: Any]])?.first)?["field"] as? String == "plan")
            #expect(try await harness.count("stores") == 2, "a refused create writes nothing")
        }
    }

    @Test("PATCH enqueues an update job with a new revision and marks the store updating; the same spec changes nothing")
    func patchEnqueuesUpdate() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let id = try await readyStore(harness, client, token: token, name: "grow-shop")
            let same = try await client.call(.patch, "/api/stores/\(id)", token: token, json: ["plan": "small"])
            #expect(same.status == .ok, "\(same.text)")
            #expect(same.json["job"] == nil)
            #expect(try await harness.count("jobs") == 1)

            let reply = try await client.call(.patch, "/api/stores/\(id)", token: token, json: ["plan": "medium", "app_version": "6.8.4-php8.3-apache"],
                                              headers: ["Idempotency-Key": "grow-1"])
            #expect(reply.status == .accepted, "\(reply.text)")
            let job = try #require(reply.json["job"] as? [String: Any])
            #expect(job["kind"] as? String == StoreJobKinds.updateKind)
            #expect((job["steps"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == StoreJobKinds.updateSteps)
            let store = try #require(reply.json["store"] as? [String: Any])
            #expect(store["status"] as? String == "updating")
            #expect(store["plan"] as? String == "small" && store["revision"] as? Int == 1, "the live spec until the job applies the new one")
            // The same key replays the answer; nothing new is enqueued.
            let again = try await client.call(.patch, "/api/stores/\(id)", token: token, json: ["plan": "medium", "app_version": "6.8.4-php8.3-apache"],
                                              headers: ["Idempotency-Key": "grow-1"])
            #expect(again.status == .accepted && again.header("Idempotent-Replayed") == "true")
            #expect(try await harness.count("jobs") == 2)

            let revisions = try #require(try await client.call(.get, "/api/stores/\(id)/revisions", token: token).json["items"] as? [[String: Any]])
            #expect(revisions.map { $0["revision"] as? Int } == [2, 1])
            #expect((revisions[0]["spec"] as? [String: Any])?["app_version"] as? String == "6.8.4-php8.3-apache")
            #expect((revisions[0]["previous"] as? [String: Any])?["plan"] as? String == "small")
            #expect(revisions[0]["outcome"] as? String == "pending")
            #expect(revisions[0]["token_id"] as? String != nil, "who asked")
            let payload = try await harness.postgres.query("SELECT payload::text AS p FROM jobs WHERE id = \(UUID(uuidString: job["id"] as! String)!)").first!.decode("p", as: String.self)
            #expect(payload.replacingOccurrences(of: " ", with: "") == #"{"revision":2}"#)
            let audit = try #require(try await harness.postgres.query("SELECT details::text AS d FROM audit_events WHERE action = 'store.update'").first)
            #expect(try audit.decode("d", as: String.self).contains("plan medium"))

            // While it runs, another update is refused; a delete still supersedes it.
            let busy = try await client.call(.patch, "/api/stores/\(id)", token: token, json: ["plan": "large"])
            #expect(busy.status == .conflict)
            #expect(busy.json["type"] as? String == "https://storefleet.dev/problems/store-busy")
            let deleted = try await client.call(.delete, "/api/stores/\(id)", token: token)
            #expect(deleted.status == .accepted)
            let cancel = try await harness.postgres.query("SELECT status FROM jobs WHERE id = \(UUID(uuidString: job["id"] as! String)!)").first
            #expect(try cancel?.decode("status", as: String.self) == "cancelled", "it was waiting: cancelled at once")
            let after = try #require(try await client.call(.get, "/api/stores/\(id)/revisions", token: token).json["items"] as? [[String: Any]])
            #expect(after.first?["outcome"] as? String == "cancelled", "the superseded revision says so")
            #expect(try await client.call(.get, "/api/stores/\(id)/revisions?cursor=3000000000", token: token).status == .unprocessableContent)
        }
    }

    @Test("PATCH refuses bad input with problem+json and changes nothing", arguments: [
        (#"{}"#, "plan"), (#"{"plan":"huge"}"#, "plan"), (#"{"chart_version":"1.0"}"#, "chart_version"),
        (#"{"app_version":"-x"}"#, "app_version"), (#"{"app_version":"a b"}"#, "app_version"), (#"{"replicas":3}"#, "replicas"),
        (#"{"plan":7}"#, "plan"),
    ])
    func patchRefusesBadInput(_ body: String, _ field: String) async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let id = try await readyStore(harness, client, token: token, name: "steady-shop")
            let reply = try await client.call(.patch, "/api/stores/\(id)", token: token, raw: body)
            #expect(reply.status == .unprocessableContent, "\(reply.text)")
            #expect(reply.header("Content-Type") == "application/problem+json")
            #expect(((reply.json["errors"] as? [[String: Any]])?.first)?["field"] as? String == field, "\(reply.text)")
            #expect(try await harness.count("jobs") == 1)
            #expect(try await harness.count("store_revisions") == 1)
        }
    }

    @Test("a store that is not ready cannot be updated, and another tenant's store is not found")
    func patchNeedsAReadyOwnStore() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let (_, other) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "young-shop", "engine": "woocommerce"])
            let id = try #require((created.json["store"] as? [String: Any])?["id"] as? String)
            let early = try await client.call(.patch, "/api/stores/\(id)", token: token, json: ["plan": "medium"])
            #expect(early.status == .conflict)
            #expect((early.json["detail"] as? String)?.contains("this one is provisioning") == true)
            let foreign = try await client.call(.patch, "/api/stores/\(id)", token: other, json: ["plan": "medium"])
            #expect(foreign.status == .notFound)
            #expect(try await client.call(.get, "/api/stores/\(id)/revisions", token: other).status == .notFound)
        }
    }

    @Test("a tenant keeps to its allowed plans (creates and updates); an admin may move its store to any plan; GET /api/plans says which are allowed")
    func allowedPlansAreEnforced() async throws {
        try await GatewayHarness.with { harness, client in
            let (tenant, token) = try await harness.tenant(client)
            let restrict = try await client.call(.patch, "/api/tenants/\(tenant)", token: GatewayHarness.adminToken, json: ["allowed_plans": ["small"]])
            #expect(restrict.status == .ok, "\(restrict.text)")
            #expect(restrict.json["allowed_plans"] as? [String] == ["small"])
            #expect(restrict.json["store_limit"] as? Int == 5, "the limit is left as it was")

            let plans = try #require(try await client.call(.get, "/api/plans", token: token).json["items"] as? [[String: Any]])
            #expect(plans.compactMap { $0["name"] as? String } == ["large", "medium", "small"])
            #expect(plans.filter { $0["allowed"] as? Bool == true }.compactMap { $0["name"] as? String } == ["small"])
            #expect(plans.first { $0["name"] as? String == "small" }?["is_default"] as? Bool == true)
            let medium = try #require(plans.first { $0["name"] as? String == "medium" }?["engines"] as? [String: [String: Any]])
            #expect(medium["woocommerce"]?["limits_cpu"] as? String == "8")

            let refused = try await client.call(.post, "/api/stores", token: token, json: ["name": "big-shop", "engine": "woocommerce", "plan": "large"])
            #expect(refused.status == .unprocessableContent)
            #expect((refused.json["detail"] as? String)?.contains("it may use small") == true, "\(refused.text)")
            #expect(try await harness.count("stores") == 0)

            let id = try await readyStore(harness, client, token: token, name: "kept-shop")
            let upgrade = try await client.call(.patch, "/api/stores/\(id)", token: token, json: ["plan": "medium"])
            #expect(upgrade.status == .unprocessableContent)
            #expect(try await harness.count("jobs") == 1)
            let byAdmin = try await client.call(.patch, "/api/stores/\(id)", token: GatewayHarness.adminToken, json: ["plan": "medium"])
            #expect(byAdmin.status == .accepted, "\(byAdmin.text)")
            // The tenant sees that someone else asked, not the administrator's token.
            let revisions = try #require(try await client.call(.get, "/api/stores/\(id)/revisions", token: token).json["items"] as? [[String: Any]])
            #expect(revisions[0]["token_id"] == nil && revisions[0]["asked_by_another_tenant"] as? Bool == true)
            #expect(revisions[1]["token_id"] as? String != nil, "its own revision keeps its token")

            let reopen = try await client.call(.patch, "/api/tenants/\(tenant)", token: GatewayHarness.adminToken, raw: #"{"allowed_plans":null}"#)
            #expect(reopen.status == .ok)
            #expect(reopen.json["allowed_plans"] == nil)
            let badList = try await client.call(.patch, "/api/tenants/\(tenant)", token: GatewayHarness.adminToken, json: ["allowed_plans": ["small", "gold"]])
            #expect(badList.status == .unprocessableContent)
            let byMember = try await client.call(.patch, "/api/tenants/\(tenant)", token: token, json: ["allowed_plans": ["large"]])
            #expect(byMember.status == .forbidden)
        }
    }

    @Test("a plans file decides which plans exist, the default, and what each offers; a bad one stops start-up with the reason")
    func plansFile() throws {
        let catalog = try PlanCatalog.parse("""
            default: basic
            plans:
              basic:
                description: one shop
                woocommerce:
                  quota: {limits.cpu: "2", pods: 4}
                  values: {web: {resources: {limits: {cpu: "1"}}}}
              pro:
                medusa: {}
            """, source: "plans.yaml")
        #expect(catalog.defaultPlan == "basic")
        #expect(catalog.plans["basic"]?.engines["woocommerce"]?.quota.limitsCPU == "2")
        #expect(catalog.plans["basic"]?.engines["woocommerce"]?.quota.requestsMemory == "2Gi", "keys not named keep the built-in small quota")
        #expect(catalog.plans["basic"]?.engines["woocommerce"]?.valuesJSON == #"{"web":{"resources":{"limits":{"cpu":"1"}}}}"#)
        #expect(catalog.refusal(plan: "pro", engine: "woocommerce", allowed: nil)?.contains("does not offer woocommerce") == true)
        #expect(catalog.refusal(plan: "basic", engine: "woocommerce", allowed: ["pro"])?.contains("not allowed") == true)
        for (text, problem) in [
            ("plans: {a: {woocommerce: {}}}", "`default` must name"),
            ("default: a\nplans: {a: {woocommerce: {values: {store: {name: x}}}}}", "may not set store"),
            ("default: a\nplans: {a: {woocommerce: {quota: {cpu: 1}}}}", "unknown key cpu"),
            ("default: a\nplans: {a: {}}", "offers no engine"),
            ("default: b\nplans: {a: {medusa: {}}}", "the default plan b is not among"),
            ("default: A\nplans: {A: {medusa: {}}}", "plan name A must be"),
        ] {
            let error = #expect(throws: ConfigurationError.self) { _ = try PlanCatalog.parse(text, source: "plans.yaml") }
            #expect(error?.problem.contains(problem) == true, "\(error?.problem ?? "") for \(text)")
        }
    }
}

/// POST /api/stores/:id/suspend and /resume, as tenants and administrators see them.
@Suite struct SuspensionTests {
    func suspendedAsJobLeavesIt(_ harness: GatewayHarness, _ id: String) async throws {
        let uuid = UUID(uuidString: id)!
        try await harness.postgres.query("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE store_id = \(uuid)")
        try await harness.postgres.query("UPDATE stores SET status = 'suspended', suspended_at = now() WHERE id = \(uuid)")
    }

    @Test("a tenant suspends and resumes its own store; each is a job, audited")
    func tenantSuspendsAndResumes() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let id = try await StoreUpdateTests().readyStore(harness, client, token: token, name: "nap-shop")
            let suspend = try await client.call(.post, "/api/stores/\(id)/suspend", token: token, json: ["reason": "closed for the holidays"])
            #expect(suspend.status == .accepted, "\(suspend.text)")
            let store = try #require(suspend.json["store"] as? [String: Any])
            #expect(store["status"] as? String == "suspending" && store["suspended_by"] as? String == "tenant")
            #expect(store["suspension_reason"] as? String == "closed for the holidays")
            #expect((suspend.json["job"] as? [String: Any])?["kind"] as? String == StoreJobKinds.suspendKind)
            // While it is suspending, nothing else starts.
            #expect(try await client.call(.post, "/api/stores/\(id)/suspend", token: token).status == .conflict)
            #expect(try await client.call(.patch, "/api/stores/\(id)", token: token, json: ["plan": "medium"]).status == .conflict)
            #expect(try await client.call(.post, "/api/stores/\(id)/resume", token: token).status == .conflict)

            try await suspendedAsJobLeavesIt(harness, id)
            let resume = try await client.call(.post, "/api/stores/\(id)/resume", token: token)
            #expect(resume.status == .accepted, "\(resume.text)")
            #expect((resume.json["store"] as? [String: Any])?["status"] as? String == "resuming")
            #expect((resume.json["job"] as? [String: Any])?["kind"] as? String == StoreJobKinds.resumeKind)
            let actions = try await harness.postgres.query("SELECT action FROM audit_events WHERE action LIKE 'store.%' ORDER BY id").rows.map { try $0.decode("action", as: String.self) }
            #expect(actions.suffix(2) == ["store.suspend", "store.resume"])
        }
    }

    @Test("a store an administrator suspended cannot be resumed by its tenant, only by an administrator")
    func adminSuspensionHolds() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let id = try await StoreUpdateTests().readyStore(harness, client, token: token, name: "rogue-shop")
            let suspend = try await client.call(.post, "/api/stores/\(id)/suspend", token: GatewayHarness.adminToken, json: ["reason": "phishing reported"])
            #expect(suspend.status == .accepted)
            #expect((suspend.json["store"] as? [String: Any])?["suspended_by"] as? String == "admin")
            try await suspendedAsJobLeavesIt(harness, id)
            let byTenant = try await client.call(.post, "/api/stores/\(id)/resume", token: token)
            #expect(byTenant.status == .forbidden)
            #expect((byTenant.json["detail"] as? String)?.contains("only an administrator") == true)
            #expect(try await harness.count("jobs") == 2, "the refusal enqueued nothing")
            let byAdmin = try await client.call(.post, "/api/stores/\(id)/resume", token: GatewayHarness.adminToken)
            #expect(byAdmin.status == .accepted)
            // A tenant's own suspension an administrator takes over: no job, and the tenant is locked out.
            try await harness.postgres.query("UPDATE jobs SET status = 'succeeded', finished_at = now()")
            try await harness.postgres.query("UPDATE stores SET status = 'suspended', suspended_by = 'tenant', suspension_reason = 'holiday' WHERE id = \(UUID(uuidString: id)!)")
            let takeover = try await client.call(.post, "/api/stores/\(id)/suspend", token: GatewayHarness.adminToken, json: ["reason": "fraud"])
            #expect(takeover.status == .ok, "\(takeover.text)")
            #expect((takeover.json["store"] as? [String: Any])?["suspended_by"] as? String == "admin")
            #expect(takeover.json["job"] == nil)
            #expect(try await client.call(.post, "/api/stores/\(id)/resume", token: token).status == .forbidden)
            // Another tenant cannot even see it.
            let (_, other) = try await harness.tenant(client)
            #expect(try await client.call(.post, "/api/stores/\(id)/suspend", token: other).status == .notFound)
        }
    }

    @Test("a suspended store can be deleted; bad reasons are refused", arguments: [#"{"reason":7}"#, #"{"why":"x"}"#, #"{"reason":"a\u0007b"}"#])
    func refusalsAndDelete(_ body: String) async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let id = try await StoreUpdateTests().readyStore(harness, client, token: token, name: "odd-shop")
            let refused = try await client.call(.post, "/api/stores/\(id)/suspend", token: token, raw: body)
            #expect(refused.status == .unprocessableContent, "\(refused.text)")
            #expect(try await harness.count("jobs") == 1)
            #expect(try await client.call(.post, "/api/stores/\(id)/suspend", token: token).status == .accepted, "an empty body is a suspension without a reason")
            try await suspendedAsJobLeavesIt(harness, id)
            let deleted = try await client.call(.delete, "/api/stores/\(id)", token: token)
            #expect(deleted.status == .accepted)
            #expect((deleted.json["store"] as? [String: Any])?["status"] as? String == "deleting")
        }
    }
}

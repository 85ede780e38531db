import ClusterSimulator
import Foundation
import GatewayKit
import HummingbirdTesting
import KubeClient
import Testing
import TestSupport

/// GET /api/stores/:id/credentials reads the store's Secret from the cluster (here kube-sim) at request
/// time, for the owner or an admin only, and audits every read.
@Suite("Store credentials")
struct CredentialsTests {
    @Test("the owner reads the admin credentials from the store's Secret; other tenants get 404; every read is audited")
    func credentials() async throws {
        try await SimulatorHarness.with { sim in
            // The test arranges the cluster as an admin; the gateway reads as the chart's gateway account.
            let kube = KubeClient(configuration: try KubeConfiguration.kubeconfig(at: "\(sim.directory.path)/kubeconfig"))
            let identities = try await sim.platformIdentities()
            let gatewayKube = KubeClient(configuration: try KubeConfiguration.kubeconfig(at: identities.gatewayKubeconfig))
            try await GatewayHarness.with(kube: gatewayKube) { harness, client in
                let owner = try await harness.seedTenant()
                let stranger = try await harness.seedTenant()
                let created = try await client.call(.post, "/api/stores", token: owner.token, json: ["name": "creds-shop", "engine": "woocommerce"])
                #expect(created.status == .accepted)
                let id = try #require((created.json["store"] as? [String: Any])?["id"] as? String)

                let early = try await client.call(.get, "/api/stores/\(id)/credentials", token: owner.token)
                #expect(early.status == .conflict, "no Secret yet: \(early.text)")
                #expect(early.text.contains("credentials-not-ready"))

                // Someone else's Secret in a namespace of the same name is never handed out. In a namespace
                // no namespace step bound the gateway to, the cluster itself refuses the read.
                try await kube.create("/api/v1/namespaces", ["metadata": ["name": "store-creds-shop"]])
                try await kube.create("/api/v1/namespaces/store-creds-shop/secrets", [
                    "metadata": ["name": "store-credentials", "labels": ["storefleet.io/store-id": .string(UUID().uuidString.lowercased())]],
                    "stringData": ["admin-username": "admin", "admin-password": "Not-yours", "admin-email": "admin@elsewhere.example"],
                ])
                let unbound = try await client.call(.get, "/api/stores/\(id)/credentials", token: owner.token)
                #expect(unbound.status == .conflict && unbound.text.contains("credentials-not-ready"), "\(unbound.text)")
                #expect(!unbound.text.contains("Not-yours"))
                try await harness.postgres.query("""
                    UPDATE job_steps SET status = 'succeeded' WHERE name = 'secrets' AND job_id IN (SELECT id FROM jobs WHERE store_id = \(UUID(uuidString: id)!))
                    """)
                let refused = try await client.call(.get, "/api/stores/\(id)/credentials", token: owner.token)
                #expect(refused.status == .conflict && refused.text.contains("credentials-not-readable"), "\(refused.text)")
                #expect(!refused.text.contains("Not-yours"))
                try await harness.postgres.query("UPDATE job_steps SET status = 'pending' WHERE name = 'secrets'")
                // What the worker's namespace step binds (STORE_ROLE_BINDINGS as the chart sets it).
                let reader = try #require(identities.storeRoleBindings.split(separator: ",").first { $0.contains("store-reader") })
                let role = String(reader.split(separator: "=")[0])
                try await kube.create("/apis/rbac.authorization.k8s.io/v1/namespaces/store-creds-shop/rolebindings", [
                    "metadata": ["name": .string(role)],
                    "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": .string(role)],
                    "subjects": [["kind": "ServiceAccount", "name": "sf-gateway", "namespace": "storefleet"]],
                ])
                let theirs = try await client.call(.get, "/api/stores/\(id)/credentials", token: owner.token)
                #expect(theirs.status == .conflict, "\(theirs.text)")
                #expect(theirs.text.contains("credentials-not-owned") && !theirs.text.contains("Not-yours"))
                // Nor one without the label while this store's secrets step has not succeeded.
                _ = try await kube.delete("/api/v1/namespaces/store-creds-shop/secrets/store-credentials")
                try await kube.create("/api/v1/namespaces/store-creds-shop/secrets", [
                    "metadata": ["name": "store-credentials"], "stringData": ["admin-username": "admin", "admin-password": "Not-yours"],
                ])
                #expect(try await client.call(.get, "/api/stores/\(id)/credentials", token: owner.token).status == .conflict)
                // Once it has (a Secret made before the worker labelled them), the unlabelled one is the store's.
                try await harness.postgres.query("""
                    UPDATE job_steps SET status = 'succeeded' WHERE name = 'secrets' AND job_id IN (SELECT id FROM jobs WHERE store_id = \(UUID(uuidString: id)!))
                    """)
                #expect(try await client.call(.get, "/api/stores/\(id)/credentials", token: owner.token).json["password"] as? String == "Not-yours")
                try await harness.postgres.query("UPDATE job_steps SET status = 'pending' WHERE name = 'secrets'")
                _ = try await kube.delete("/api/v1/namespaces/store-creds-shop/secrets/store-credentials")

                // What the worker's secrets step creates.
                try await kube.create("/api/v1/namespaces/store-creds-shop/secrets", [
                    "metadata": ["name": "store-credentials", "labels": ["storefleet.io/store-id": .string(id)]],
                    "stringData": ["admin-username": "admin", "admin-password": "S3cret-from-CSPRNG", "admin-email": "admin@creds-shop.example"],
                ])
                let read = try await client.call(.get, "/api/stores/\(id)/credentials", token: owner.token)
                #expect(read.status == .ok, "\(read.text)")
                #expect(read.json["username"] as? String == "admin")
                #expect(read.json["store"] as? String == id && id == id.lowercased(), "IDs are lowercase here as everywhere")
                #expect(read.json["password"] as? String == "S3cret-from-CSPRNG")
                #expect((read.json["admin_url"] as? String)?.hasSuffix("/wp-admin/") == true)
                #expect(read.header("Cache-Control") == "no-store")

                let foreign = try await client.call(.get, "/api/stores/\(id)/credentials", token: stranger.token)
                #expect(foreign.status == .notFound)
                let admin = try await client.call(.get, "/api/stores/\(id)/credentials", token: GatewayHarness.adminToken)
                #expect(admin.status == .ok)

                let audits = try await harness.postgres.query("SELECT count(*) AS n FROM audit_events WHERE action = 'store.credentials.view' AND target_id = \(id)").first!.decode("n", as: Int.self)
                #expect(audits == 3, "refused reads are not audited as views")
                let named = try await harness.postgres.query("""
                    SELECT count(*) AS n FROM audit_events WHERE action = 'store.credentials.view' AND target_id = \(id) AND details->>'name' IS NOT NULL
                    """).first!.decode("n", as: Int.self)
                #expect(named == 3, "the audit row names the store, so the activity log reads as words")
                let leaked = try await harness.postgres.query("SELECT count(*) AS n FROM audit_events WHERE details::text LIKE '%S3cret%'").first!.decode("n", as: Int.self)
                #expect(leaked == 0, "the password is never stored")
            }
        }
    }

    @Test("without a cluster the endpoint answers 503 and the rest of the API works")
    func noCluster() async throws {
        try await GatewayHarness.with { harness, client in
            let owner = try await harness.seedTenant()
            let created = try await client.call(.post, "/api/stores", token: owner.token, json: ["name": "no-cluster", "engine": "medusa"])
            let id = try #require((created.json["store"] as? [String: Any])?["id"] as? String)
            let reply = try await client.call(.get, "/api/stores/\(id)/credentials", token: owner.token)
            #expect(reply.status == .serviceUnavailable)
            #expect(reply.header("Content-Type") == "application/problem+json")
        }
    }
}

import ClusterSimulator
import Foundation
import KubeClient
@testable import Provisioning
import ServiceRuntime
import Testing
import TestSupport

/// What a stolen platform token can do, tried against kube-sim holding the worker's and the gateway's
/// service accounts to the RBAC and admission policy `charts/platform` renders (as the multi-tenancy
/// benchmark's checks do on a real cluster). Every attempt must be refused; a few allowed calls first
/// show that the refusals are the rules', not a broken setup's.
@Suite("Platform identities: the denial matrix")
struct DenialMatrixTests {
    struct Attempt {
        let what: String
        let method: String
        let path: String
        let body: JSON?
        var contentType = "application/json"
    }

    static let tokenSecret: JSON = [
        "apiVersion": "v1", "kind": "Secret",
        "metadata": ["name": "stolen", "annotations": ["kubernetes.io/service-account.name": "default"]],
        "type": "kubernetes.io/service-account-token",
    ]
    static let privilegedPod: JSON = [
        "apiVersion": "v1", "kind": "Pod", "metadata": ["name": "root"],
        "spec": ["hostPID": true, "containers": [["name": "c", "image": "busybox", "securityContext": ["privileged": true]]],
                 "volumes": [["name": "host", "hostPath": ["path": "/"]]]],
    ]
    static let deployment: JSON = [
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "root"],
        "spec": ["selector": ["matchLabels": ["a": "b"]], "template": ["metadata": ["labels": ["a": "b"]], "spec": privilegedPod["spec"]!]],
    ]
    static func binding(_ role: String, _ account: String = "sf-worker") -> JSON {
        [
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": ["name": "grab"],
            "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": .string(role)],
            "subjects": [["kind": "ServiceAccount", "name": .string(account), "namespace": "storefleet"]],
        ]
    }
    static func labels(_ labels: [String: JSON]) -> JSON { ["metadata": ["labels": .object(labels)]] }

    /// The cluster as the attacker finds it: the system namespaces, a Secret in kube-system, a store
    /// namespace the worker made (store-a, with its bindings and credentials) and one it did not
    /// (store-foreign: labelled like a store, but never bound).
    func arrange(_ sim: SimulatorHarness) async throws -> (admin: KubeClient, worker: KubeClient, gateway: KubeClient) {
        let identities = try await sim.platformIdentities()
        let admin = KubeClient(configuration: try KubeConfiguration.kubeconfig(at: "\(sim.directory.path)/kubeconfig"))
        let worker = KubeClient(configuration: try KubeConfiguration.kubeconfig(at: identities.workerKubeconfig))
        let gateway = KubeClient(configuration: try KubeConfiguration.kubeconfig(at: identities.gatewayKubeconfig))
        // The system namespaces are there from the start, as on a real cluster.
        try await admin.create("/api/v1/namespaces", ["metadata": ["name": "store-foreign", "labels": ["app.kubernetes.io/managed-by": "storefleet"]]])
        try await admin.create("/api/v1/namespaces/default/services", ["metadata": ["name": "internal-db"], "spec": ["ports": [["port": 5432]]]])
        try await admin.create("/api/v1/namespaces/kube-system/secrets", ["metadata": ["name": "bootstrap"], "stringData": ["token": "x"]])
        try await admin.create("/api/v1/namespaces/store-foreign/secrets", ["metadata": ["name": "store-credentials"], "stringData": ["admin-password": "x"]])
        // store-a as the namespace step makes it, with the worker's own token.
        var settings = try ProvisioningSettings(from: ConfigurationReader(["STORE_ROLE_BINDINGS": identities.storeRoleBindings]))
        settings.chartsDirectory = ""
        try await worker.create("/api/v1/namespaces", [
            "metadata": ["name": "store-a", "labels": [
                "app.kubernetes.io/managed-by": "storefleet", "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": .string(Provisioner.podSecurityVersion)]],
        ])
        for binding in settings.storeRoleBindings {
            try await worker.create("/apis/rbac.authorization.k8s.io/v1/namespaces/store-a/rolebindings", [
                "metadata": ["name": .string(binding.clusterRole)],
                "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": .string(binding.clusterRole)],
                "subjects": [["kind": "ServiceAccount", "name": .string(binding.serviceAccount), "namespace": .string(binding.namespace)]],
            ])
        }
        try await worker.create("/api/v1/namespaces/store-a/secrets", ["metadata": ["name": "store-credentials"], "stringData": ["admin-password": "x"]])
        try await worker.create("/api/v1/namespaces/store-a/secrets", ["metadata": ["name": "sh.helm.release.v1.a.v1"], "stringData": ["release": "x"]])
        return (admin, worker, gateway)
    }

    /// Each attempt's status; a 2xx is an escape.
    func statuses(_ client: KubeClient, _ attempts: [Attempt]) async -> [String: Int] {
        var out: [String: Int] = [:]
        for attempt in attempts {
            do {
                let response = try await client.send(attempt.method, attempt.path, body: attempt.body.map { Array($0.serialized()) },
                                                     contentType: attempt.contentType, retries: 0)
                out[attempt.what] = response.status
            } catch {
                out[attempt.what] = error.code
            }
        }
        return out
    }

    /// Every attempt must be answered 403; the message names the one that was not.
    func expectRefused(_ client: KubeClient, _ attempts: [Attempt], who: String) async {
        let outcome = await statuses(client, attempts)
        for attempt in attempts {
            #expect(outcome[attempt.what] == 403, "\(who) could \(attempt.what): \(outcome[attempt.what] ?? 0)")
        }
    }

    static let namespaceAttacks: [Attempt] = ["default", "kube-system", "kube-node-lease"].flatMap { name in [
        Attempt(what: "relabel namespace \(name)", method: "PATCH", path: "/api/v1/namespaces/\(name)",
                body: Self.labels(["app.kubernetes.io/managed-by": "storefleet", "pod-security.kubernetes.io/enforce": "privileged"]),
                contentType: "application/merge-patch+json"),
        Attempt(what: "apply namespace \(name)", method: "PATCH", path: "/api/v1/namespaces/\(name)?fieldManager=x&force=true",
                body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name), "labels": ["x": "y"]]],
                contentType: "application/apply-patch+yaml"),
        Attempt(what: "delete namespace \(name)", method: "DELETE", path: "/api/v1/namespaces/\(name)", body: nil),
    ] }

    @Test("the worker's token reaches nothing outside the store namespaces it made, and cannot loosen those")
    func worker() async throws {
        try await SimulatorHarness.with { sim in
            let (_, worker, _) = try await arrange(sim)
            // What it must be able to do, or the refusals below prove nothing.
            let allowed = await statuses(worker, [
                Attempt(what: "read helm's records in store-a", method: "GET", path: "/api/v1/namespaces/store-a/secrets?labelSelector=owner%3Dhelm", body: nil),
                Attempt(what: "read store-a's credentials", method: "GET", path: "/api/v1/namespaces/store-a/secrets/store-credentials", body: nil),
                Attempt(what: "make a Deployment in store-a", method: "POST", path: "/apis/apps/v1/namespaces/store-a/deployments",
                        body: ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"]]),
                Attempt(what: "re-apply store-a's labels", method: "PATCH", path: "/api/v1/namespaces/store-a", body: Self.labels(["storefleet.io/engine": "medusa"]),
                        contentType: "application/merge-patch+json"),
                Attempt(what: "read the kubernetes Service", method: "GET", path: "/api/v1/namespaces/default/services/kubernetes", body: nil),
                Attempt(what: "read the kubernetes EndpointSlice", method: "GET",
                        path: "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes", body: nil),
            ])
            #expect(allowed.values.allSatisfy { (200..<300).contains($0) }, "\(allowed)")

            let attempts: [Attempt] = [
                Attempt(what: "read a Secret in kube-system", method: "GET", path: "/api/v1/namespaces/kube-system/secrets/bootstrap", body: nil),
                Attempt(what: "list Secrets in kube-system", method: "GET", path: "/api/v1/namespaces/kube-system/secrets", body: nil),
                Attempt(what: "list Secrets cluster-wide", method: "GET", path: "/api/v1/secrets", body: nil),
                Attempt(what: "read a Secret in a store namespace it did not make", method: "GET",
                        path: "/api/v1/namespaces/store-foreign/secrets/store-credentials", body: nil),
                Attempt(what: "create a Deployment in kube-system", method: "POST", path: "/apis/apps/v1/namespaces/kube-system/deployments", body: Self.deployment),
                Attempt(what: "create a Pod in kube-system", method: "POST", path: "/api/v1/namespaces/kube-system/pods", body: Self.privilegedPod),
                Attempt(what: "create a privileged Pod in its store namespace", method: "POST", path: "/api/v1/namespaces/store-a/pods", body: Self.privilegedPod),
                Attempt(what: "create a token Secret in its store namespace", method: "POST", path: "/api/v1/namespaces/store-a/secrets", body: Self.tokenSecret),
                Attempt(what: "create a token Secret in kube-system", method: "POST", path: "/api/v1/namespaces/kube-system/secrets", body: Self.tokenSecret),
                Attempt(what: "bind cluster-admin in kube-system", method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings",
                        body: Self.binding("cluster-admin")),
                Attempt(what: "bind its own ClusterRole in kube-system", method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings",
                        body: Self.binding("sf-store-manager")),
                Attempt(what: "bind cluster-admin in its store namespace", method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/namespaces/store-a/rolebindings",
                        body: Self.binding("cluster-admin")),
                Attempt(what: "bind the store manager role to a store's pods", method: "POST",
                        path: "/apis/rbac.authorization.k8s.io/v1/namespaces/store-a/rolebindings", body: Self.binding("sf-store-manager", "default")),
                Attempt(what: "bind cluster-admin cluster-wide", method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                        body: ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": ["name": "grab"],
                               "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"],
                               "subjects": [["kind": "ServiceAccount", "name": "sf-worker", "namespace": "storefleet"]]]),
                Attempt(what: "write a Role that reaches its namespace", method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/namespaces/store-a/roles",
                        body: ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": ["name": "ns"],
                               "rules": [["apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]]]]),
                Attempt(what: "relabel its store namespace privileged", method: "PATCH", path: "/api/v1/namespaces/store-a",
                        body: Self.labels(["pod-security.kubernetes.io/enforce": "privileged"]), contentType: "application/merge-patch+json"),
                Attempt(what: "remove the managed-by label from its store namespace", method: "PATCH", path: "/api/v1/namespaces/store-a",
                        body: Self.labels(["app.kubernetes.io/managed-by": .null]), contentType: "application/merge-patch+json"),
                Attempt(what: "create a namespace that is not a store's", method: "POST", path: "/api/v1/namespaces",
                        body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "mine"]]),
                Attempt(what: "delete a store namespace it did not make", method: "DELETE", path: "/api/v1/namespaces/store-foreign", body: nil),
                // In default it reads the two objects that locate the API server, nothing else.
                Attempt(what: "read another Service in default", method: "GET", path: "/api/v1/namespaces/default/services/internal-db", body: nil),
                Attempt(what: "list Services in default", method: "GET", path: "/api/v1/namespaces/default/services", body: nil),
                Attempt(what: "list EndpointSlices in default", method: "GET", path: "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", body: nil),
                Attempt(what: "change the kubernetes EndpointSlice", method: "PATCH", path: "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes",
                        body: ["endpoints": [["addresses": ["10.0.0.66"]]]], contentType: "application/merge-patch+json"),
                Attempt(what: "read Secrets in default", method: "GET", path: "/api/v1/namespaces/default/secrets", body: nil),
            ] + Self.namespaceAttacks
            await expectRefused(worker, attempts, who: "the worker")
        }
    }

    @Test("the gateway's token reads store-credentials in bound store namespaces, and nothing else")
    func gateway() async throws {
        try await SimulatorHarness.with { sim in
            let (_, _, gateway) = try await arrange(sim)
            let allowed = await statuses(gateway, [
                Attempt(what: "read store-a's credentials", method: "GET", path: "/api/v1/namespaces/store-a/secrets/store-credentials", body: nil),
            ])
            #expect(allowed.values.allSatisfy { $0 == 200 }, "\(allowed)")
            let attempts: [Attempt] = [
                Attempt(what: "read a Secret in kube-system", method: "GET", path: "/api/v1/namespaces/kube-system/secrets/bootstrap", body: nil),
                Attempt(what: "list Secrets in kube-system", method: "GET", path: "/api/v1/namespaces/kube-system/secrets", body: nil),
                Attempt(what: "list Secrets in a store namespace", method: "GET", path: "/api/v1/namespaces/store-a/secrets", body: nil),
                Attempt(what: "read helm's records in a store namespace", method: "GET", path: "/api/v1/namespaces/store-a/secrets/sh.helm.release.v1.a.v1", body: nil),
                Attempt(what: "read credentials in a namespace no store step bound", method: "GET",
                        path: "/api/v1/namespaces/store-foreign/secrets/store-credentials", body: nil),
                Attempt(what: "overwrite store-a's credentials", method: "PUT", path: "/api/v1/namespaces/store-a/secrets/store-credentials",
                        body: ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "store-credentials"], "stringData": ["admin-password": "mine"]]),
                Attempt(what: "create a Deployment in kube-system", method: "POST", path: "/apis/apps/v1/namespaces/kube-system/deployments", body: Self.deployment),
                Attempt(what: "create a Pod in a store namespace", method: "POST", path: "/api/v1/namespaces/store-a/pods", body: Self.privilegedPod),
                Attempt(what: "create a token Secret", method: "POST", path: "/api/v1/namespaces/store-a/secrets", body: Self.tokenSecret),
                Attempt(what: "bind cluster-admin in kube-system", method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings",
                        body: Self.binding("cluster-admin", "sf-gateway")),
                Attempt(what: "bind the store manager role in kube-system", method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings",
                        body: Self.binding("sf-store-manager", "sf-gateway")),
                Attempt(what: "create a namespace", method: "POST", path: "/api/v1/namespaces",
                        body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "mine"]]),
                Attempt(what: "relabel a store namespace privileged", method: "PATCH", path: "/api/v1/namespaces/store-a",
                        body: Self.labels(["pod-security.kubernetes.io/enforce": "privileged"]), contentType: "application/merge-patch+json"),
                Attempt(what: "delete a store namespace", method: "DELETE", path: "/api/v1/namespaces/store-a", body: nil),
            ] + Self.namespaceAttacks
            await expectRefused(gateway, attempts, who: "the gateway")
        }
    }

    @Test("a token stops working when its service account is deleted; an unknown token is 401")
    func tokenLifetime() async throws {
        try await SimulatorHarness.with { sim in
            let (admin, worker, _) = try await arrange(sim)
            let stranger = KubeClient(configuration: KubeConfiguration(server: sim.url, certificateAuthority: Array(try Data(contentsOf: sim.directory.appendingPathComponent("ca.crt"))),
                                                                       credentials: .token("kube-sim-sa.guessed", file: nil), source: "test"))
            #expect(await statuses(stranger, [Attempt(what: "list", method: "GET", path: "/api/v1/namespaces", body: nil)])["list"] == 401)
            #expect(await statuses(worker, [Attempt(what: "list", method: "GET", path: "/api/v1/namespaces", body: nil)])["list"] == 200)
            _ = try await admin.delete("/api/v1/namespaces/storefleet/serviceaccounts/sf-worker")
            #expect(await statuses(worker, [Attempt(what: "list", method: "GET", path: "/api/v1/namespaces", body: nil)])["list"] == 401)
        }
    }
}

import ClusterSimulator
import Foundation
import KubeClient
import Postgres
@testable import Provisioning
import ServiceRuntime
import Testing
import TestSupport

/// What readiness says a stuck store waits for. A real API server showed the old answer (the first
/// warning event in list order) naming a StatefulSet's long-gone quota refusal while that pod ran; the
/// blockers were other pods that could not be scheduled.
@Suite("Readiness names the real blocker")
struct ReadinessBlockerTests {
    static func deployment(_ name: String, claim: String? = nil) -> JSON {
        var spec: JSON = ["containers": [["name": "c", "image": "nginx:1.27", "resources": ["requests": ["cpu": "100m", "memory": "64Mi"]]]]]
        if let claim { spec["volumes"] = [["name": "data", "persistentVolumeClaim": ["claimName": .string(claim)]]] }
        return [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name)],
            "spec": ["replicas": 1, "selector": ["matchLabels": ["app": .string(name)]],
                     "template": ["metadata": ["labels": ["app": .string(name)]], "spec": spec]],
        ]
    }

    @Test("each waiting workload is explained by its own pods and the newest events about them; stale events about others are ignored")
    func blockersFromOwnPods() async throws {
        var timing = SimulatorTiming()
        timing.readyDelay = 0.2
        try await SimulatorHarness.with(timing: timing) { sim in
            let kube = KubeClient(configuration: try KubeConfiguration.kubeconfig(at: "\(sim.directory.path)/kubeconfig"))
            let settings = try ProvisioningSettings(from: ConfigurationReader(["CHARTS_DIR": "\(TestEnvironment.repositoryRoot.path)/charts"]))
            // The blockers read only the cluster; the pool is never used.
            let provisioner = Provisioner(kube: kube, postgres: PostgresPool(configuration: PostgresConfiguration(url: "postgres://unused@127.0.0.1:1/unused")),
                                          settings: settings, kubeconfig: nil)
            try await kube.create("/api/v1/namespaces", ["metadata": ["name": "shop"]])
            try await kube.create("/api/v1/namespaces/shop/resourcequotas", ["metadata": ["name": "q"], "spec": ["hard": ["pods": "2"]]])
            // An old quota refusal about the database, which has run fine since.
            try await kube.create("/api/v1/namespaces/shop/events", [
                "metadata": ["name": "db.old"], "type": "Warning", "reason": "FailedCreate", "lastTimestamp": "2026-01-01T00:00:00Z",
                "involvedObject": ["kind": "StatefulSet", "name": "db", "namespace": "shop"],
                "message": "create Pod db-0 in StatefulSet db failed error: pods \"db-0\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=6, limited: pods=6",
            ])
            try await kube.create("/apis/apps/v1/namespaces/shop/deployments", Self.deployment("db"))
            try await kube.create("/apis/apps/v1/namespaces/shop/deployments", Self.deployment("web", claim: "web-data"))
            try await kube.create("/apis/apps/v1/namespaces/shop/deployments", Self.deployment("worker"))

            let web = try await kube.get("/apis/apps/v1/namespaces/shop/deployments/web")
            let blocked = try await kube.get("/apis/apps/v1/namespaces/shop/deployments/worker")
            let why = try await eventually(within: 10) { () throws -> String in
                guard let why = try await provisioner.blockers(namespace: "shop", waiting: [web, blocked]), why.contains("worker:") else { throw CancellationError() }
                return why
            }
            #expect(why.contains("web: pod web-"), "\(why)")
            #expect(why.contains("cannot be scheduled: 0/1 nodes are available: persistentvolumeclaim \"web-data\" not found"), "\(why)")
            #expect(why.contains("worker: Error creating: pods \"worker-\" is forbidden: exceeded quota: q"), "\(why)")
            // ("db" alone could be in a pod name's random suffix: web-edbs-0.)
            #expect(!why.contains("db:") && !why.contains("db-0") && !why.contains("StatefulSet db"), "a stale event about a running workload: \(why)")

            // The claim appears, then is deleted while nothing mounts it yet: the pod's reason follows.
            try await kube.create("/api/v1/namespaces/shop/persistentvolumeclaims", [
                "metadata": ["name": "web-data"], "spec": ["accessModes": ["ReadWriteOnce"], "resources": ["requests": ["storage": "1Gi"]]],
            ])
            let after = try await eventually(within: 10) { () throws -> String? in
                let why = try await provisioner.blockers(namespace: "shop", waiting: [web])
                guard why == nil else { throw CancellationError() }
                return why
            }
            #expect(after == nil, "web's pod is scheduled once its claim exists")
        }
    }
}

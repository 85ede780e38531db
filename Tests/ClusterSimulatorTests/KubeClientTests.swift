import ClusterSimulator
import Foundation
import KubeClient
import Testing
import TestSupport

/// The production Kubernetes client (libcurl) against the simulator's HTTPS endpoint.
@Suite("Kubernetes client")
struct KubeClientTests {
    func client(_ sim: SimulatorHarness, _ kubeconfig: String = "kubeconfig", timeout: Double = 10, retries: Int = 0) throws -> KubeClient {
        var settings = KubeClientSettings()
        settings.requestTimeout = timeout
        settings.retries = retries
        return KubeClient(configuration: try KubeConfiguration.kubeconfig(at: "\(sim.directory.path)/\(kubeconfig)"), settings: settings)
    }

    @Test("token, CA file and client-certificate kubeconfigs all verify the server and authenticate",
          arguments: ["kubeconfig", "kubeconfig-ca-file", "kubeconfig-client-cert"])
    func kubeconfigVariants(_ kubeconfig: String) async throws {
        try await SimulatorHarness.with { sim in
            let kube = try client(sim, kubeconfig)
            let created = try await kube.create("/api/v1/namespaces", ["metadata": ["name": "variant"]])
            #expect(created.at("metadata", "uid")?.string != nil)
            let listed = try await kube.get("/api/v1/namespaces")
            // Beside the system namespaces every cluster starts with.
            #expect(listed["items"]?.arrayValue?.compactMap { $0.at("metadata", "name")?.string } == (ClusterSimulator.systemNamespaces + ["variant"]).sorted())
        }
    }

    @Test("every call is counted by verb, resource and status, and timed; names and namespaces never become labels")
    func callMetrics() async throws {
        try await SimulatorHarness.with { sim in
            let kube = try client(sim)
            _ = try await kube.create("/api/v1/namespaces", ["metadata": ["name": "metered"]])
            _ = try await kube.get("/api/v1/namespaces/metered")
            _ = try await kube.get("/api/v1/namespaces/metered/pods")
            _ = await #expect(throws: KubeError.self) { try await kube.get("/api/v1/namespaces/metered/secrets/absent") }
            let text = kube.metrics.render()
            #expect(text.contains("storefleet_kube_requests_total{verb=\"create\",resource=\"namespaces\",code=\"201\"} 1"), "\(text)")
            #expect(text.contains("storefleet_kube_requests_total{verb=\"get\",resource=\"namespaces\",code=\"200\"} 1"))
            #expect(text.contains("storefleet_kube_requests_total{verb=\"list\",resource=\"pods\",code=\"200\"} 1"))
            #expect(text.contains("storefleet_kube_requests_total{verb=\"get\",resource=\"secrets\",code=\"404\"} 1"))
            #expect(text.contains("storefleet_kube_request_duration_seconds_count{verb=\"create\",resource=\"namespaces\"} 1"))
            #expect(!text.contains("metered") && !text.contains("absent"))
        }
        #expect(KubeMetrics.describe(method: "PATCH", path: "/apis/apps/v1/namespaces/s-1/deployments/web").verb == "patch")
        #expect(KubeMetrics.describe(method: "PATCH", path: "/apis/apps/v1/namespaces/s-1/deployments/web").resource == "deployments")
        #expect(KubeMetrics.describe(method: "GET", path: "/api/v1/namespaces/s-1/pods/web-0/log").resource == "pods/log")
        #expect(KubeMetrics.describe(method: "GET", path: "/api/v1/namespaces/s-1/pods", query: [("watch", "true")]).verb == "watch")
        #expect(KubeMetrics.describe(method: "DELETE", path: "/api/v1/namespaces/s-1").verb == "delete")
        #expect(KubeMetrics.describe(method: "GET", path: "/version").resource == "other")
        #expect(KubeMetrics.describe(method: "GET", path: "/api/v1/namespaces/s-1/Weird%20Thing").resource == "other")
    }

    @Test("KUBECONFIG with a named context, and the in-cluster service account with a token that rotates")
    func loading() async throws {
        try await SimulatorHarness.with { sim in
            let fromEnvironment = try KubeConfiguration.load(environment: ["KUBECONFIG": "/nonexistent:\(sim.directory.path)/kubeconfig"], context: "kube-sim")
            #expect(fromEnvironment.server == sim.url)
            #expect(throws: KubeConfiguration.Problem.self) {
                try KubeConfiguration.load(environment: ["KUBECONFIG": "\(sim.directory.path)/kubeconfig"], context: "missing")
            }

            let account = sim.directory.appendingPathComponent("serviceaccount")
            try FileManager.default.createDirectory(at: account, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: sim.directory.appendingPathComponent("ca.crt"), to: account.appendingPathComponent("ca.crt"))
            try "stale-token".write(to: account.appendingPathComponent("token"), atomically: true, encoding: .utf8)
            let port = try #require(URL(string: sim.url)?.port)
            let inCluster = try KubeConfiguration.load(environment: [
                "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "\(port)", "STOREFLEET_SERVICE_ACCOUNT_DIR": account.path,
            ])
            #expect(inCluster.source == "in-cluster service account")
            let kube = KubeClient(configuration: inCluster)
            let refused = await #expect(throws: KubeError.self) { try await kube.get("/api/v1/namespaces") }
            #expect(refused?.reason == .unauthorized)
            // The kubelet rotates the projected token; the next request reads the new one.
            try sim.simulator.token.write(to: account.appendingPathComponent("token"), atomically: true, encoding: .utf8)
            #expect(try await kube.get("/api/v1/namespaces")["kind"]?.string == "NamespaceList")
        }
    }

    @Test("server errors decode into typed reasons, classified retryable or not")
    func typedErrors() async throws {
        try await SimulatorHarness.with { sim in
            let kube = try client(sim)
            let missing = await #expect(throws: KubeError.self) { try await kube.get("/api/v1/namespaces/nope") }
            #expect(missing?.reason == .notFound)
            #expect(missing?.code == 404)
            #expect(missing?.isRetryable == false)
            #expect(missing?.message.contains("\"nope\" not found") == true)
            try await kube.create("/api/v1/namespaces", ["metadata": ["name": "shop"]])
            let duplicate = await #expect(throws: KubeError.self) { try await kube.create("/api/v1/namespaces", ["metadata": ["name": "shop"]]) }
            #expect(duplicate?.reason == .alreadyExists)
            #expect(try await kube.delete("/api/v1/namespaces/never") == false)

            var faults = FaultSettings()
            faults.errors = [.init(verb: "get", resource: "secrets", rate: 1, status: 429, retryAfter: 4)]
            sim.simulator.setFaults(faults)
            let throttled = await #expect(throws: KubeError.self) { try await kube.get("/api/v1/namespaces/shop/secrets/x") }
            #expect(throttled?.reason == .tooManyRequests)
            #expect(throttled?.retryAfter == 4)
            #expect(throttled?.isRetryable == true)
        }
    }

    @Test("retryable answers are retried call by call, so a flaky API server does not fail the caller")
    func retriesPerCall() async throws {
        try await SimulatorHarness.with { sim in
            // 30 calls at 30% failures: some certainly fail (all but 0.002% of runs) and none runs out of
            // its 10 retries (0.3^11 per call); at 50% and 6 retries one run in 13 failed the test.
            let kube = try client(sim, retries: 10)
            try await kube.create("/api/v1/namespaces", ["metadata": ["name": "flaky"]])
            var faults = FaultSettings()
            faults.errors = [.init(verb: "get", resource: "namespaces", rate: 0.3, status: 503)]
            sim.simulator.setFaults(faults)
            for _ in 0..<30 {
                let namespace = try await kube.get("/api/v1/namespaces/flaky")
                #expect(namespace.at("metadata", "name")?.string == "flaky")
            }
            #expect(sim.simulator.requests.contains { $0.status == 503 }, "faults were injected and absorbed")
            // A refusal is not retried: one request, one answer.
            faults.errors = [.init(verb: "get", resource: "namespaces", rate: 1, status: 403)]
            sim.simulator.setFaults(faults)
            let before = sim.simulator.requests.count
            let refused = await #expect(throws: KubeError.self) { try await kube.get("/api/v1/namespaces/flaky") }
            #expect(refused?.reason == .forbidden)
            #expect(sim.simulator.requests.count == before + 1)
        }
    }

    @Test("server-side apply converges: applying the same object twice succeeds both times")
    func applyConverges() async throws {
        try await SimulatorHarness.with { sim in
            let kube = try client(sim)
            try await kube.create("/api/v1/namespaces", ["metadata": ["name": "shop"]])
            let quota: JSON = ["apiVersion": "v1", "kind": "ResourceQuota", "metadata": ["name": "store", "namespace": "shop"], "spec": ["hard": ["pods": "10"]]]
            try await kube.apply("/api/v1/namespaces/shop/resourcequotas/store", quota)
            let again = try await kube.apply("/api/v1/namespaces/shop/resourcequotas/store", quota)
            #expect(again.at("spec", "hard", "pods")?.string == "10")
            let recorded = try #require(sim.simulator.requests.last)
            #expect(recorded.contentType == "application/apply-patch+yaml")
            #expect(recorded.query.contains("fieldManager=storefleet"))
            #expect(recorded.query.contains("force=true"))
        }
    }

    @Test("a slow server hits the request timeout; a dropped connection is a retryable transport error")
    func timeoutsAndDrops() async throws {
        try await SimulatorHarness.with { sim in
            let kube = try client(sim, timeout: 0.5)
            var faults = FaultSettings()
            faults.latencyMs = 2000
            sim.simulator.setFaults(faults)
            let started = ContinuousClock.now
            let slow = await #expect(throws: KubeError.self) { try await kube.get("/api/v1/namespaces") }
            #expect(slow?.reason == .timeout)
            #expect(slow?.isRetryable == true)
            #expect(ContinuousClock.now - started < .seconds(2))
            faults = FaultSettings()
            faults.dropRate = 1
            sim.simulator.setFaults(faults)
            let patient = try client(sim, timeout: 20)
            let dropped = await #expect(throws: KubeError.self) { try await patient.get("/api/v1/namespaces") }
            #expect(dropped?.reason == .transport)
            #expect(dropped?.isRetryable == true)
            sim.simulator.setFaults(FaultSettings())
            // Recovery is checked with the patient client: reconnecting after the drop (TCP and TLS) on a
            // loaded two-core machine can take longer than the 0.5 s the timeout check above relies on.
            let recovered = try await patient.get("/api/v1/namespaces")
            #expect(recovered["kind"]?.string == "NamespaceList")
        }
    }

    @Test("a server whose certificate the configured CA did not sign is refused")
    func wrongCA() async throws {
        try await SimulatorHarness.with { sim in
            let configuration = KubeConfiguration(server: sim.url, certificateAuthority: nil, credentials: .token(sim.simulator.token, file: nil), source: "test")
            let strict = KubeClient(configuration: configuration)
            let error = await #expect(throws: KubeError.self) { try await strict.get("/api/v1/namespaces") }
            #expect(error?.reason == .transport)
            var insecure = configuration
            insecure.insecureSkipTLSVerify = true
            let lenient = try await KubeClient(configuration: insecure).get("/api/v1/namespaces")
            #expect(lenient["kind"]?.string == "NamespaceList")
        }
    }

    @Test("a delete with the UID read earlier removes only that object; one made again since is a 409 and stays")
    func deleteWithUIDPrecondition() async throws {
        try await SimulatorHarness.with { sim in
            let kube = try client(sim)
            _ = try await kube.create("/api/v1/namespaces", ["metadata": ["name": "shop"]])
            let first = try await kube.create("/api/v1/namespaces/shop/configmaps", ["metadata": ["name": "c"]])
            _ = try await kube.delete("/api/v1/namespaces/shop/configmaps/c")
            _ = try await kube.create("/api/v1/namespaces/shop/configmaps", ["metadata": ["name": "c"]])
            let stale = await #expect(throws: KubeError.self) {
                try await kube.delete("/api/v1/namespaces/shop/configmaps/c", uid: first.at("metadata", "uid")?.string)
            }
            #expect(stale?.reason == .conflict)
            #expect(stale?.message.contains("Precondition failed") == true)
            let current = try await kube.get("/api/v1/namespaces/shop/configmaps/c")
            #expect(try await kube.delete("/api/v1/namespaces/shop/configmaps/c", uid: current.at("metadata", "uid")?.string))
        }
    }
}

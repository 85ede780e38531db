import KubeClient
@testable import ClusterSimulator
import Foundation
import ServiceRuntime
import Testing
import TestSupport

private let fast: SimulatorTiming = {
    var timing = SimulatorTiming()
    timing.readyDelay = 0.3
    timing.jobDelay = 0.3
    timing.namespaceDeletionDelay = 0.3
    return timing
}()

private func namespace(_ name: String) -> JSON { ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]] }
private func secret(_ name: String, labels: JSON = [:]) -> JSON {
    ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string(name), "labels": labels], "stringData": ["k": "v"]]
}
private func deployment(_ name: String, image: String = "nginx:1.27", cpu: String = "100m", replicas: Int = 1) -> JSON {
    [
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name)],
        "spec": [
            "replicas": .number(Double(replicas)), "selector": ["matchLabels": ["app": .string(name)]],
            "template": [
                "metadata": ["labels": ["app": .string(name)]],
                "spec": ["containers": [["name": "c", "image": .string(image), "resources": ["requests": ["cpu": .string(cpu), "memory": "64Mi"]]]]],
            ],
        ],
    ]
}

@Suite("Cluster simulator")
struct SimulatorTests {
    @Test("discovery lists exactly the served resources")
    func discovery() async throws {
        try await SimulatorHarness.with { sim in
            let core = try await sim.request("GET", "/api/v1")
            let names = Set(core.body["resources"]?.arrayValue?.compactMap { $0["name"]?.string } ?? [])
            #expect(names == Set(ResourceCatalog.types.filter { $0.group.isEmpty }.map(\.plural)))
            let groups = try await sim.request("GET", "/apis")
            #expect(Set(groups.body["groups"]?.arrayValue?.compactMap { $0["name"]?.string } ?? []) == Set(ResourceCatalog.groups))
            let apps = try await sim.request("GET", "/apis/apps/v1")
            #expect(Set(apps.body["resources"]?.arrayValue?.compactMap { $0["name"]?.string } ?? []) == ["deployments", "statefulsets"])
            #expect(try await sim.request("GET", "/apis/nothing/v1").status == 404)
        }
    }

    @Test("objects get Kubernetes metadata, and errors are Status objects with reason and code")
    func crudSemantics() async throws {
        try await SimulatorHarness.with(timing: fast) { sim in
            #expect(try await sim.request("POST", "/api/v1/namespaces", body: namespace("shop")).status == 201)
            let created = try await sim.request("POST", "/api/v1/namespaces/shop/secrets", body: secret("one"))
            #expect(created.status == 201)
            #expect(created.body.at("metadata", "uid")?.string?.count == 36)
            #expect(created.body.at("metadata", "generation")?.int == 1)
            #expect(created.body.at("metadata", "namespace")?.string == "shop")
            #expect(created.body.at("metadata", "creationTimestamp")?.string?.hasSuffix("Z") == true)
            let version = try #require(created.body.at("metadata", "resourceVersion")?.string)

            let duplicate = try await sim.request("POST", "/api/v1/namespaces/shop/secrets", body: secret("one"))
            #expect(duplicate.status == 409)
            #expect(duplicate.body["kind"]?.string == "Status")
            #expect(duplicate.body["reason"]?.string == "AlreadyExists")
            #expect(duplicate.body["code"]?.int == 409)

            let missing = try await sim.request("GET", "/api/v1/namespaces/shop/secrets/none")
            #expect(missing.status == 404)
            #expect(missing.body["reason"]?.string == "NotFound")

            var update = created.body
            update["stringData"] = ["k": "changed"]
            let replaced = try await sim.request("PUT", "/api/v1/namespaces/shop/secrets/one", body: update)
            #expect(replaced.status == 200)
            #expect(replaced.body.at("metadata", "resourceVersion")?.string != version)
            let stale = try await sim.request("PUT", "/api/v1/namespaces/shop/secrets/one", body: update)
            #expect(stale.status == 409)
            #expect(stale.body["reason"]?.string == "Conflict")

            let patched = try await sim.request("PATCH", "/api/v1/namespaces/shop/secrets/one",
                                                body: ["metadata": ["labels": ["tier": "gold"]]], contentType: "application/merge-patch+json")
            #expect(patched.body.at("metadata", "labels", "tier")?.string == "gold")
            #expect(patched.body.at("data", "k")?.string == "Y2hhbmdlZA==", "stringData is stored base64-encoded in data")
            let unsupported = try await sim.request("PATCH", "/api/v1/namespaces/shop/secrets/one", body: [:], contentType: "application/json-patch+json")
            #expect(unsupported.status == 415)

            #expect(try await sim.request("DELETE", "/api/v1/namespaces/shop/secrets/one").status == 200)
            #expect(try await sim.request("DELETE", "/api/v1/namespaces/shop/secrets/one").status == 404)
        }
    }

    @Test("server-side apply creates, then converges; generation moves only when the spec changes")
    func serverSideApply() async throws {
        try await SimulatorHarness.with(timing: fast) { sim in
            _ = try await sim.request("POST", "/api/v1/namespaces", body: namespace("shop"))
            let path = "/apis/apps/v1/namespaces/shop/deployments/web?fieldManager=storefleet&force=true"
            let first = try await sim.request("PATCH", path, body: deployment("web"), contentType: "application/apply-patch+yaml")
            #expect(first.status == 201)
            let again = try await sim.request("PATCH", path, body: deployment("web"), contentType: "application/apply-patch+yaml")
            #expect(again.status == 200)
            #expect(again.body.at("metadata", "generation")?.int == 1)
            let scaled = try await sim.request("PATCH", path, body: deployment("web", replicas: 3), contentType: "application/apply-patch+yaml")
            #expect(scaled.body.at("metadata", "generation")?.int == 2)
            #expect(scaled.body.at("spec", "replicas")?.int == 3)
            let noManager = try await sim.request("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web", body: deployment("web"), contentType: "application/apply-patch+yaml")
            #expect(noManager.status == 400)
        }
    }

    @Test("namespaced objects are refused in a missing or terminating namespace; deletion cascades after a delay")
    func namespaceLifecycle() async throws {
        var timing = fast
        // Long enough that the refused create below still finds the namespace Terminating when the
        // suites' parallel tests load the machine (3 s was not, once).
        timing.namespaceDeletionDelay = 8
        try await SimulatorHarness.with(timing: timing) { sim in
            let missing = try await sim.request("POST", "/api/v1/namespaces/ghost/secrets", body: secret("s"))
            #expect(missing.status == 404)
            _ = try await sim.request("POST", "/api/v1/namespaces", body: namespace("shop"))
            _ = try await sim.request("POST", "/api/v1/namespaces/shop/secrets", body: secret("s"))
            let deleting = try await sim.request("DELETE", "/api/v1/namespaces/shop")
            #expect(deleting.body.at("status", "phase")?.string == "Terminating")
            let refused = try await sim.request("POST", "/api/v1/namespaces/shop/secrets", body: secret("t"))
            #expect(refused.status == 403)
            #expect(refused.body["message"]?.string?.contains("being terminated") == true)
            // As a current API server does, a second delete while it terminates answers 200 with the object.
            let again = try await sim.request("DELETE", "/api/v1/namespaces/shop")
            #expect(again.status == 200)
            #expect(again.body.at("status", "phase")?.string == "Terminating" && again.body.at("metadata", "deletionTimestamp") != nil)
            try await eventually(within: 30) {
                guard try await sim.request("GET", "/api/v1/namespaces/shop").status == 404 else { throw CancellationError() }
            }
            #expect(sim.simulator.store.objects(inNamespace: "shop").isEmpty)
        }
    }

    @Test("a namespace whose deletion is made to hang stays Terminating")
    func hangingNamespace() async throws {
        try await SimulatorHarness.with(timing: fast) { sim in
            var faults = FaultSettings()
            faults.hangNamespaceDeletion = ["stuck"]
            _ = try await sim.request("PUT", "/sim/faults", body: try JSON(parsing: JSONEncoder().encode(faults)))
            _ = try await sim.request("POST", "/api/v1/namespaces", body: namespace("stuck"))
            _ = try await sim.request("DELETE", "/api/v1/namespaces/stuck")
            try await Task.sleep(for: .seconds(1))
            let namespace = try await sim.request("GET", "/api/v1/namespaces/stuck")
            #expect(namespace.body.at("status", "phase")?.string == "Terminating")
            #expect(namespace.body.at("spec", "finalizers")?.arrayValue == ["kubernetes"])
        }
    }

    @Test("label and field selectors filter lists")
    func selectors() async throws {
        try await SimulatorHarness.with { sim in
            _ = try await sim.request("POST", "/api/v1/namespaces", body: namespace("shop"))
            for (name, tier) in [("a", "gold"), ("b", "silver"), ("c", "gold")] {
                _ = try await sim.request("POST", "/api/v1/namespaces/shop/secrets", body: secret(name, labels: ["tier": .string(tier)]))
            }
            func names(_ query: String) async throws -> [String] {
                try await sim.request("GET", "/api/v1/namespaces/shop/secrets?\(query)").body["items"]?.arrayValue?.compactMap { $0.at("metadata", "name")?.string } ?? []
            }
            #expect(try await names("labelSelector=tier%3Dgold") == ["a", "c"])
            #expect(try await names("labelSelector=tier%21%3Dgold") == ["b"])
            #expect(try await names("labelSelector=tier%20in%20(silver,bronze)") == ["b"])
            #expect(try await names("labelSelector=%21tier") == [])
            #expect(try await names("fieldSelector=metadata.name%3Db") == ["b"])
            let all = try await sim.request("GET", "/api/v1/secrets")
            #expect(all.body["items"]?.arrayValue?.count == 3)
        }
    }

    @Test("workloads become ready after the delay with pods, a Job succeeds, and generation is observed")
    func workloadsBecomeReady() async throws {
        var timing = fast
        timing.readyDelay = 3
        try await SimulatorHarness.with(timing: timing) { sim in
            _ = try await sim.request("POST", "/api/v1/namespaces", body: namespace("shop"))
            _ = try await sim.request("POST", "/apis/apps/v1/namespaces/shop/deployments", body: deployment("web", replicas: 2))
            let early = try await sim.request("GET", "/apis/apps/v1/namespaces/shop/deployments/web")
            #expect((early.body.at("status", "readyReplicas")?.int ?? 0) == 0)
            try await eventually(within: 15) {
                let web = try await sim.request("GET", "/apis/apps/v1/namespaces/shop/deployments/web")
                guard web.body.at("status", "readyReplicas")?.int == 2,
                      web.body.at("status", "observedGeneration")?.int == web.body.at("metadata", "generation")?.int
                else { throw CancellationError() }
            }
            let pods = try await sim.request("GET", "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb")
            #expect(pods.body["items"]?.arrayValue?.count == 2)
            #expect(pods.body["items"]?.arrayValue?.allSatisfy { $0.at("status", "phase")?.string == "Running" } == true)

            let job: JSON = ["apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": "setup"],
                             "spec": ["template": ["spec": ["containers": [["name": "c", "image": "busybox:1.36"]]]]]]
            _ = try await sim.request("POST", "/apis/batch/v1/namespaces/shop/jobs", body: job)
            try await eventually(within: 5) {
                guard try await sim.request("GET", "/apis/batch/v1/namespaces/shop/jobs/setup").body.at("status", "succeeded")?.int == 1 else {
                    throw CancellationError()
                }
            }
        }
    }

    @Test("a workload made never to become ready shows ImagePullBackOff; an over-quota one says why in its events")
    func stuckWorkloads() async throws {
        try await SimulatorHarness.with(timing: fast) { sim in
            var faults = FaultSettings()
            faults.neverReady = ["broken-image"]
            sim.simulator.setFaults(faults)
            _ = try await sim.request("POST", "/api/v1/namespaces", body: namespace("shop"))
            let quota: JSON = ["apiVersion": "v1", "kind": "ResourceQuota", "metadata": ["name": "limits"], "spec": ["hard": ["requests.cpu": "1"]]]
            _ = try await sim.request("POST", "/api/v1/namespaces/shop/resourcequotas", body: quota)
            _ = try await sim.request("POST", "/apis/apps/v1/namespaces/shop/deployments", body: deployment("stuck", image: "registry/broken-image:1"))
            _ = try await sim.request("POST", "/apis/apps/v1/namespaces/shop/deployments", body: deployment("greedy", cpu: "4"))
            try await Task.sleep(for: .seconds(1))
            let stuck = try await sim.request("GET", "/apis/apps/v1/namespaces/shop/deployments/stuck")
            #expect((stuck.body.at("status", "readyReplicas")?.int ?? 0) == 0)
            let pods = try await sim.request("GET", "/api/v1/namespaces/shop/pods?labelSelector=app%3Dstuck")
            let reason = pods.body["items"]?.arrayValue?.first?.at("status", "containerStatuses")?.arrayValue?.first?.at("state", "waiting", "reason")?.string
            #expect(reason == "ImagePullBackOff")
            let greedy = try await sim.request("GET", "/apis/apps/v1/namespaces/shop/deployments/greedy")
            #expect((greedy.body.at("status", "readyReplicas")?.int ?? 0) == 0)
            let events = try await sim.request("GET", "/api/v1/namespaces/shop/events").body["items"]?.arrayValue ?? []
            #expect(events.contains { $0.at("involvedObject", "name")?.string == "greedy" && ($0["message"]?.string ?? "").contains("exceeded quota: limits") })
            #expect(events.contains { $0.at("involvedObject", "name")?.string == "stuck" && $0["reason"]?.string == "BackOff" })
        }
    }

    @Test("injected faults: error codes with Retry-After, latency and dropped connections, set at run time")
    func faults() async throws {
        try await SimulatorHarness.with { sim in
            _ = try await sim.request("POST", "/api/v1/namespaces", body: namespace("shop"))
            var faults = FaultSettings()
            faults.errors = [.init(verb: "create", resource: "secrets", rate: 1, status: 429, retryAfter: 7)]
            let set = try await sim.request("PUT", "/sim/faults", body: try JSON(parsing: JSONEncoder().encode(faults)))
            #expect(set.status == 200)
            let throttled = try await sim.request("POST", "/api/v1/namespaces/shop/secrets", body: secret("s"))
            #expect(throttled.status == 429)
            #expect(throttled.body["reason"]?.string == "TooManyRequests")
            #expect(throttled.headers.lowercased().contains("retry-after: 7"))
            #expect(try await sim.request("GET", "/api/v1/namespaces/shop/secrets").status == 200, "other verbs are untouched")

            faults.errors = [.init(verb: "*", resource: "configmaps", rate: 1, status: 503)]
            faults.latencyMs = 300
            sim.simulator.setFaults(faults)
            let started = ContinuousClock.now
            let unavailable = try await sim.request("GET", "/api/v1/namespaces/shop/configmaps")
            #expect(unavailable.status == 503)
            #expect(ContinuousClock.now - started >= .milliseconds(290))

            faults = FaultSettings()
            faults.dropRate = 1
            sim.simulator.setFaults(faults)
            let dropped = try await sim.request("GET", "/api/v1/namespaces")
            #expect(dropped.status == 0 || dropped.status == 500)
            #expect(dropped.curlExit != 0)
        }
    }

    @Test("requests need the token or a client certificate signed by the simulator's CA")
    func authentication() async throws {
        try await SimulatorHarness.with { sim in
            #expect(try await sim.request("GET", "/api/v1/namespaces", auth: nil).status == 401)
            let wrong = try await sim.request("GET", "/api/v1/namespaces", auth: "not-the-token")
            #expect(wrong.status == 401)
            #expect(wrong.body["reason"]?.string == "Unauthorized")
            #expect(try await sim.request("GET", "/api/v1/namespaces", auth: "client-cert").status == 200)
            // Without the CA the server's certificate does not verify: TLS is real.
            let unverified = try await ChildProcess.run("curl", ["-sS", "--max-time", "5", sim.url + "/api"], timeout: 10)
            #expect(unverified.exitCode == 60, "curl: certificate problem (\(unverified.standardError))")
        }
    }

    @Test("every API request is recorded with method, path, content type and body")
    func recording() async throws {
        try await SimulatorHarness.with { sim in
            _ = try await sim.request("POST", "/api/v1/namespaces", body: namespace("rec"))
            let recorded = try #require(sim.simulator.requests.last)
            #expect(recorded.method == "POST")
            #expect(recorded.path == "/api/v1/namespaces")
            #expect(recorded.contentType == "application/json")
            #expect(recorded.body.contains("\"rec\""))
            #expect(recorded.status == 201)
        }
    }

    @Test("kubectl gets, applies and deletes through each kind of kubeconfig", arguments: ["kubeconfig", "kubeconfig-ca-file", "kubeconfig-client-cert"])
    func kubectl(_ kubeconfig: String) async throws {
        try await SimulatorHarness.with(timing: fast) { sim in
            let manifest = """
                apiVersion: v1
                kind: Namespace
                metadata:
                  name: demo
                ---
                apiVersion: v1
                kind: Secret
                metadata:
                  name: creds
                  namespace: demo
                stringData:
                  password: hunter2
                """
            let applied = try await sim.kubectl(["apply", "-f", "-"], kubeconfig: kubeconfig, input: manifest)
            #expect(applied.succeeded, "\(applied.standardError)")
            #expect(applied.standardOutput.contains("namespace/demo created"))
            let again = try await sim.kubectl(["apply", "-f", "-"], kubeconfig: kubeconfig, input: manifest)
            #expect(again.standardOutput.contains("unchanged"), "\(again.standardOutput) \(again.standardError)")
            let got = try await sim.kubectl(["-n", "demo", "get", "secret", "creds", "-o", "jsonpath={.metadata.name}"], kubeconfig: kubeconfig)
            #expect(got.standardOutput == "creds")
            // The Secret first: `delete -f` of both raced the namespace's own cleanup of it (a NotFound
            // under load), as it can on a real cluster.
            let secret = try await sim.kubectl(["-n", "demo", "delete", "secret", "creds"], kubeconfig: kubeconfig)
            #expect(secret.succeeded, "\(secret.standardError)")
            let deleted = try await sim.kubectl(["delete", "namespace", "demo", "--timeout=20s"], kubeconfig: kubeconfig)
            #expect(deleted.succeeded, "\(deleted.standardError)")
            let gone = try await sim.kubectl(["get", "namespace", "demo"], kubeconfig: kubeconfig)
            #expect(!gone.succeeded)
            #expect(gone.standardError.contains("NotFound"))
        }
    }
}

@Suite("Cluster simulator at capacity")
struct SimulatorCapacityTests {
    @Test("with 10,000 objects, selectors still return exactly the matching ones")
    func tenThousandObjects() async throws {
        try await SimulatorHarness.with { sim in
            let namespaces = ResourceCatalog.type(group: "", version: "v1", plural: "namespaces")!
            let configMaps = ResourceCatalog.type(group: "", version: "v1", plural: "configmaps")!
            for index in 0..<20 {
                _ = try sim.simulator.store.create(namespaces, namespace: nil, object: ["metadata": ["name": .string("ns-\(index)")]])
            }
            for index in 0..<10_000 {
                _ = try sim.simulator.store.create(configMaps, namespace: "ns-\(index % 20)", object: [
                    "metadata": ["name": .string("cm-\(index)"), "labels": ["bucket": .string("b\(index % 100)")]],
                ])
            }
            #expect(sim.simulator.store.count >= 10_020)
            let bucket = try await sim.request("GET", "/api/v1/configmaps?labelSelector=bucket%3Db7")
            #expect(bucket.body["items"]?.arrayValue?.count == 100)
            let one = try await sim.request("GET", "/api/v1/namespaces/ns-7/configmaps?labelSelector=bucket%3Db7")
            #expect(one.body["items"]?.arrayValue?.count == 100)
            let named = try await sim.request("GET", "/api/v1/namespaces/ns-3/configmaps?fieldSelector=metadata.name%3Dcm-9983")
            #expect(named.body["items"]?.arrayValue?.count == 1)
        }
    }

    @Test("the service proxy answers as the store would: 404 without the Service, 503 without ready pods, then the seeded products; Medusa wants its publishable key")
    func serviceProxyStorefronts() async throws {
        try await SimulatorHarness.with(timing: fast) { sim in
            _ = try await sim.request("POST", "/api/v1/namespaces", body: namespace("shop"))
            let proxy = "/api/v1/namespaces/shop/services/web:80/proxy/wp-json/wc/store/v1/products"
            let noService = try await sim.request("GET", proxy)
            #expect(noService.status == 404 && noService.body["reason"]?.string == "NotFound")

            let service: JSON = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"],
                                 "spec": ["selector": ["app": "web"], "ports": [["port": 80]]]]
            #expect(try await sim.request("POST", "/api/v1/namespaces/shop/services", body: service).status == 201)
            let noEndpoints = try await sim.request("GET", proxy)
            #expect(noEndpoints.status == 503)
            #expect(noEndpoints.body["message"]?.string == "no endpoints available for service \"web\"")

            _ = try await sim.request("POST", "/apis/apps/v1/namespaces/shop/deployments", body: deployment("web"))
            let products = #"[{"sku": "A", "name": "Tee", "price": "19.00", "stock": 3}, {"sku": "B", "name": "Mug", "price": "4.50", "stock": 1}]"#
            let setup: JSON = [
                "apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": "setup", "labels": ["app.kubernetes.io/component": "setup"]],
                "spec": ["template": ["spec": ["restartPolicy": "Never", "containers": [
                    ["name": "setup", "image": "wordpress:cli", "env": [["name": "STORE_PRODUCTS", "value": .string(products)]]],
                ]]]],
            ]
            _ = try await sim.request("POST", "/apis/batch/v1/namespaces/shop/jobs", body: setup)
            let keyMap: JSON = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "medusa-publishable-key", "labels": ["app.kubernetes.io/component": "setup"]]]
            _ = try await sim.request("POST", "/api/v1/namespaces/shop/configmaps", body: keyMap)

            let listed = try await eventually(within: 10) { () throws -> [JSON] in
                let answer = try await sim.request("GET", proxy)
                guard answer.status == 200, let items = answer.body.arrayValue, !items.isEmpty else { throw CancellationError() }
                return items
            }
            #expect(listed.map { $0["name"]?.string } == ["Tee", "Mug"])
            #expect(listed.first?.at("prices", "price")?.string == "1900")

            // Medusa's Store API, on the same pods: the key the setup Job "wrote" is required.
            let medusa = "/api/v1/namespaces/shop/services/web:80/proxy/store/products"
            let withoutKey = try await sim.request("GET", medusa)
            #expect(withoutKey.status == 400 && withoutKey.body["type"]?.string == "not_allowed")
            let key = try #require(try await sim.request("GET", "/api/v1/namespaces/shop/configmaps/medusa-publishable-key").body.at("data", "token")?.string)
            #expect(key.hasPrefix("pk_sim_"))
            let wrongKey = try await sim.request("GET", medusa, extra: ["-H", "x-publishable-api-key: pk_wrong"])
            #expect(wrongKey.status == 400)
            let withKey = try await sim.request("GET", medusa, extra: ["-H", "x-publishable-api-key: \(key)"])
            #expect(withKey.status == 200 && withKey.body["count"]?.int == 2)
            #expect(withKey.body["products"]?.arrayValue?.first?["title"]?.string == "Tee")
        }
    }

    @Test("LimitRanger fills in container defaults and refuses pods outside a LimitRange's bounds, in the API server's words")
    func limitRangeContainers() async throws {
        try await SimulatorHarness.with(timing: fast) { sim in
            _ = try await sim.request("POST", "/api/v1/namespaces", body: namespace("bounded"))
            let range: JSON = ["apiVersion": "v1", "kind": "LimitRange", "metadata": ["name": "bounds"], "spec": ["limits": [[
                "type": "Container", "max": ["cpu": "1"], "min": ["memory": "32Mi"],
                "default": ["cpu": "500m", "memory": "256Mi"], "defaultRequest": ["cpu": "100m"],
            ]]]]
            #expect(try await sim.request("POST", "/api/v1/namespaces/bounded/limitranges", body: range).status == 201)
            // Within bounds once the defaults fill in its missing limits.
            _ = try await sim.request("POST", "/apis/apps/v1/namespaces/bounded/deployments", body: deployment("fits"))
            var greedy = deployment("greedy")
            greedy.set(["spec", "template", "spec", "containers"], to: [[
                "name": "c", "image": "nginx:1.27", "resources": ["requests": ["cpu": "100m", "memory": "64Mi"], "limits": ["cpu": "2"]],
            ]])
            _ = try await sim.request("POST", "/apis/apps/v1/namespaces/bounded/deployments", body: greedy)
            try await eventually(within: 10) {
                let ready = try await sim.request("GET", "/apis/apps/v1/namespaces/bounded/deployments/fits").body.at("status", "readyReplicas")?.int
                guard ready == 1 else { throw CancellationError() }
            }
            #expect(try await sim.request("GET", "/apis/apps/v1/namespaces/bounded/deployments/greedy").body.at("status", "readyReplicas")?.int == 0)
            let events = try await sim.request("GET", "/api/v1/namespaces/bounded/events").body["items"]?.arrayValue ?? []
            let refusal = events.first { $0.at("involvedObject", "name")?.string == "greedy" && $0["reason"]?.string == "FailedCreate" }?["message"]?.string
            #expect(refusal == #"Error creating: pods "greedy-" is forbidden: maximum cpu usage per Container is 1, but limit is 2"#, "\(refusal ?? "no event")")

            // A pod made directly is refused at once, every problem named.
            let tiny: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "tiny"], "spec": ["containers": [[
                "name": "c", "image": "busybox", "resources": ["requests": ["memory": "1Mi"], "limits": ["cpu": "3", "memory": "16Mi"]],
            ]]]]
            let refused = try await sim.request("POST", "/api/v1/namespaces/bounded/pods", body: tiny)
            #expect(refused.status == 403)
            #expect(refused.body["message"]?.string == #"pods "tiny" is forbidden: [minimum memory usage per Container is 32Mi, but request is 1Mi, maximum cpu usage per Container is 1, but limit is 3]"#,
                    "\(refused.body["message"]?.string ?? "")")
        }
    }

    @Test("Field validation: Strict refuses undeclared fields in the API server's words, Warn drops them with a warning, apply refuses duplicate keys")
    func fieldValidation() async throws {
        try await SimulatorHarness.with(timing: fast) { sim in
            #expect(TestEnvironment.kubernetesSchemas != nil, "the schemas come from kubernetes-validate in the tools' venv (scripts/install-tools.sh)")
            _ = try await sim.request("POST", "/api/v1/namespaces", body: namespace("typed"))
            var typo = deployment("typo")
            typo.set(["spec", "replicaz"], to: 2)
            typo.set(["spec", "template", "spec", "containers"], to: [["name": "c", "image": "nginx:1.27", "imagePullPolice": "Always"]])
            let applied = try await sim.request("PATCH", "/apis/apps/v1/namespaces/typed/deployments/typo?fieldManager=helm&fieldValidation=Strict", body: typo,
                                                contentType: "application/apply-patch+yaml")
            #expect(applied.status == 500)
            #expect(applied.body["message"]?.string == """
                failed to create typed patch object (typed/typo; apps/v1, Kind=Deployment): errors:
                  .spec.replicaz: field not declared in schema
                  .spec.template.spec.containers[name="c"].imagePullPolice: field not declared in schema
                """, "\(applied.body["message"]?.string ?? "")")
            let created = try await sim.request("POST", "/apis/apps/v1/namespaces/typed/deployments?fieldValidation=Strict", body: typo)
            #expect(created.status == 400)
            #expect(created.body["message"]?.string == #"strict decoding error: unknown field "spec.replicaz", unknown field "spec.template.spec.containers[0].imagePullPolice""#,
                    "\(created.body["message"]?.string ?? "")")
            #expect(try await sim.request("GET", "/apis/apps/v1/namespaces/typed/deployments/typo").status == 404, "a refused write stores nothing")
            // The server's default, Warn: stored without the fields, and told.
            let warned = try await sim.request("POST", "/apis/apps/v1/namespaces/typed/deployments", body: typo)
            #expect(warned.status == 201)
            #expect(warned.headers.contains(#"Warning: 299 - "unknown field \"spec.replicaz\"""#), "\(warned.headers)")
            #expect(warned.body.at("spec", "replicaz") == nil)
            var twice = deployment("twice")
            twice.set(["spec", "template", "spec", "containers"], to: [["name": "c", "image": "nginx:1.27", "env": [["name": "A", "value": "1"], ["name": "A", "value": "2"]]]])
            let duplicate = try await sim.request("PATCH", "/apis/apps/v1/namespaces/typed/deployments/twice?fieldManager=helm", body: twice,
                                                  contentType: "application/apply-patch+yaml")
            #expect(duplicate.body["message"]?.string == #"failed to create typed patch object (typed/twice; apps/v1, Kind=Deployment): .spec.template.spec.containers[name="c"].env: duplicate entries for key [name="A"]"#,
                    "\(duplicate.body["message"]?.string ?? "")")
        }
    }

    @Test("Pod Security: every baseline check, restricted checks standing in for the baseline ones they tighten, lists pinned by version")
    func podSecurityChecks() {
        let spec: JSON = [
            "securityContext": ["seLinuxOptions": ["type": "spc_t"], "seccompProfile": ["type": "Unconfined"],
                                "sysctls": [["name": "kernel.shm_rmid_forced", "value": "1"], ["name": "net.core.somaxconn", "value": "1024"]]],
            "volumes": [["name": "host", "hostPath": ["path": "/"]], ["name": "share", "nfs": ["server": "nfs", "path": "/"]], ["name": "tmp", "emptyDir": [:]]],
            "containers": [[
                "name": "c",
                "securityContext": ["appArmorProfile": ["type": "Unconfined"], "procMount": "Unmasked", "seLinuxOptions": ["user": "system_u"],
                                    "capabilities": ["add": ["SYS_ADMIN", "NET_BIND_SERVICE"], "drop": ["ALL"]]],
            ]],
        ]
        let annotations: JSON = ["container.apparmor.security.beta.kubernetes.io/c": "unconfined", "container.apparmor.security.beta.kubernetes.io/d": "runtime/default"]
        #expect(PodSecurity.violations(spec, annotations: annotations, level: "baseline:v1.30") == [
            #"forbidden AppArmor profiles (container.apparmor.security.beta.kubernetes.io/c="unconfined", container "c" must not set AppArmor profile type to "Unconfined")"#,
            #"non-default capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)"#,
            #"hostPath volumes (volume "host")"#,
            #"procMount (container "c" must not set securityContext.procMount to "Unmasked")"#,
            #"seLinuxOptions (pod and container "c" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set)"#,
            #"seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")"#,
            "forbidden sysctls (net.core.somaxconn)",
        ])
        let restricted = PodSecurity.violations(spec, annotations: annotations, level: "restricted:v1.30")
        #expect(!restricted.contains { $0.hasPrefix("non-default capabilities") || $0.hasPrefix("hostPath volumes") || $0.contains("must not set securityContext.seccompProfile.type") },
                "the restricted checks stand in for these: \(restricted)")
        #expect(restricted.contains(#"unrestricted capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)"#), "\(restricted)")
        #expect(restricted.contains(#"restricted volume types (volumes "host", "share" use restricted volume types "hostPath", "nfs")"#), "\(restricted)")
        // Lists that grew with Kubernetes versions follow the pinned version.
        let keepalive: JSON = ["securityContext": ["sysctls": [["name": "net.ipv4.tcp_keepalive_time", "value": "60"]]], "containers": [["name": "c"]]]
        #expect(PodSecurity.violations(keepalive, level: "baseline:v1.28") == ["forbidden sysctls (net.ipv4.tcp_keepalive_time)"])
        #expect(PodSecurity.violations(keepalive, level: "baseline:v1.29").isEmpty)
        let engine: JSON = ["containers": [["name": "c", "securityContext": ["seLinuxOptions": ["type": "container_engine_t"]]]]]
        #expect(PodSecurity.violations(engine, level: "baseline:v1.30").count == 1)
        #expect(PodSecurity.violations(engine, level: "baseline:latest").isEmpty)
    }

    @Test("LimitRange defaulting: a limit stands in for a missing request, then default and defaultRequest, max for a missing default")
    func limitRangeDefaults() {
        let item: JSON = ["spec": ["limits": [["type": "Container", "max": ["cpu": "2"], "min": ["memory": "64Mi"], "default": ["memory": "512Mi"]]]]]
        let items = LimitRanger.items([item])
        let bare = LimitRanger.resources(["name": "c"], items: items)
        #expect(bare.limits == ["cpu": "2", "memory": "512Mi"], "default falls back to max")
        #expect(bare.requests == ["cpu": "2", "memory": "512Mi"], "defaultRequest falls back to default")
        let limited = LimitRanger.resources(["name": "c", "resources": ["limits": ["cpu": "250m"]]], items: items)
        #expect(limited.requests["cpu"] == "250m", "the container's own limit is its request")
        #expect(LimitRanger.refusal(podSpec: ["containers": [["name": "c"]]], limitRanges: [item]) == nil)
        #expect(LimitRanger.refusal(podSpec: ["initContainers": [["name": "i", "resources": ["limits": ["cpu": "4"]]]], "containers": [["name": "c"]]],
                                    limitRanges: [item]) == "maximum cpu usage per Container is 2, but limit is 4", "init containers count")
        let noDefaults: JSON = ["spec": ["limits": [["type": "Container", "min": ["cpu": "100m"]], ["type": "PersistentVolumeClaim", "max": ["storage": "1Gi"]]]]]
        #expect(LimitRanger.refusal(podSpec: ["containers": [["name": "c", "resources": ["requests": ["cpu": "50m"]]]]], limitRanges: [noDefaults])
                == "minimum cpu usage per Container is 100m, but request is 50m")
    }

    @Test("Pod Security admission refuses pods below the namespace's enforced level, in the API server's words")
    func podSecurity() async throws {
        try await SimulatorHarness.with(timing: fast) { sim in
            var ns = namespace("locked")
            ns["metadata"]?["labels"] = ["pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.30"]
            _ = try await sim.request("POST", "/api/v1/namespaces", body: ns)
            // A plain container: everything restricted asks for is missing.
            _ = try await sim.request("POST", "/apis/apps/v1/namespaces/locked/deployments", body: deployment("plain"))
            var hardened = deployment("hardened")
            hardened.set(["spec", "template", "spec", "securityContext"], to: ["runAsNonRoot": true, "seccompProfile": ["type": "RuntimeDefault"]])
            hardened.set(["spec", "template", "spec", "containers"], to: [[
                "name": "c", "image": "nginx:1.27",
                "securityContext": ["allowPrivilegeEscalation": false, "capabilities": ["drop": ["ALL"]]],
            ]])
            _ = try await sim.request("POST", "/apis/apps/v1/namespaces/locked/deployments", body: hardened)
            try await eventually(within: 10) {
                let ready = try await sim.request("GET", "/apis/apps/v1/namespaces/locked/deployments/hardened").body.at("status", "readyReplicas")?.int
                guard ready == 1 else { throw CancellationError() }
            }
            let plain = try await sim.request("GET", "/apis/apps/v1/namespaces/locked/deployments/plain")
            #expect(plain.body.at("status", "readyReplicas")?.int == 0)
            let events = try await sim.request("GET", "/api/v1/namespaces/locked/events").body["items"]?.arrayValue ?? []
            let refusal = events.first { $0.at("involvedObject", "name")?.string == "plain" && $0["reason"]?.string == "FailedCreate" }?["message"]?.string
            #expect(refusal == #"Error creating: pods "plain-" is forbidden: violates PodSecurity "restricted:v1.30": allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#,
                    "\(refusal ?? "no event")")

            // A pod made directly is refused at once; baseline refuses what it covers only.
            let privileged: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "root"], "spec": [
                "hostPID": true, "containers": [["name": "c", "image": "busybox", "securityContext": ["privileged": true]]],
            ]]
            let refused = try await sim.request("POST", "/api/v1/namespaces/locked/pods", body: privileged)
            #expect(refused.status == 403)
            #expect(refused.body["message"]?.string?.hasPrefix(#"pods "root" is forbidden: violates PodSecurity "restricted:v1.30": host namespaces (hostPID=true), privileged (container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false"#) == true,
                    "\(refused.body["message"]?.string ?? "")")
            var baseline = namespace("open")
            baseline["metadata"]?["labels"] = ["pod-security.kubernetes.io/enforce": "baseline"]
            _ = try await sim.request("POST", "/api/v1/namespaces", body: baseline)
            let inBaseline = try await sim.request("POST", "/api/v1/namespaces/open/pods", body: privileged)
            #expect(inBaseline.body["message"]?.string == #"pods "root" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostPID=true), privileged (container "c" must not set securityContext.privileged=true)"#,
                    "\(inBaseline.body["message"]?.string ?? "")")
            var plainPod = privileged
            plainPod["spec"] = ["containers": [["name": "c", "image": "busybox"]]]
            #expect(try await sim.request("POST", "/api/v1/namespaces/open/pods", body: plainPod).status == 201, "baseline admits a plain pod")
        }
    }

    @Test("raising a namespace's enforced level warns about the pods already there, as kubectl shows it")
    func podSecurityWarnings() async throws {
        try await SimulatorHarness.with(timing: fast) { sim in
            _ = try await sim.request("POST", "/api/v1/namespaces", body: namespace("relabel"))
            let plain: JSON = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "plain"], "spec": ["containers": [["name": "c", "image": "busybox"]]]]
            #expect(try await sim.request("POST", "/api/v1/namespaces/relabel/pods", body: plain).status == 201)
            let labelled = try await sim.kubectl(["label", "namespace", "relabel", "pod-security.kubernetes.io/enforce=restricted"])
            #expect(labelled.succeeded, "\(labelled.standardError)")
            #expect(labelled.standardError.contains(#"Warning: existing pods in namespace "relabel" violate the new PodSecurity enforce level "restricted:latest""#), "\(labelled.standardError)")
            #expect(labelled.standardError.contains("Warning: plain: allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile"), "\(labelled.standardError)")
            // The same level again changes nothing and warns about nothing.
            let again = try await sim.kubectl(["label", "--overwrite", "namespace", "relabel", "pod-security.kubernetes.io/enforce=restricted"])
            #expect(!again.standardError.contains("Warning"), "\(again.standardError)")
        }
    }
}

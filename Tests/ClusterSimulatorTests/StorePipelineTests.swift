import ClusterSimulator
import Foundation
@testable import Jobs
import Platform
import KubeClient
import Logging
import Postgres
@testable import Provisioning
import Redis
@testable import ServiceRuntime
import Testing
import TestSupport

/// The worker's create and delete pipelines end to end: real Postgres and Redis, the job engine, the
/// Kubernetes client against kube-sim, and helm-sim rendering the real store charts.
@Suite("Store pipelines against the simulator")
struct StorePipelineTests {
    struct Stack {
        let sim: SimulatorHarness
        let postgres: PostgresPool
        let queue: JobQueue
        let kube: KubeClient
        let keys: RedisKeys
        let databaseURL: String
        let provisioner: Provisioner
    }

    /// `inProcessWorker: false` leaves the jobs to worker processes the test starts itself.
    func withStack(inProcessWorker: Bool = true, settings extra: [String: String] = [:], _ body: (Stack) async throws -> Void) async throws {
        var timing = SimulatorTiming()
        timing.readyDelay = 0.3
        timing.jobDelay = 0.3
        timing.namespaceDeletionDelay = 0.3
        // Pods take a while to stop, so a claim they mount stays terminating meanwhile (pvc-protection).
        timing.podTerminationDelay = 2
        try await SimulatorHarness.with(timing: timing) { sim in
            try await withTestDatabase { database in
                var logger = Logger(label: "pipeline-test")
                logger.logLevel = .critical
                let postgres = PostgresPool(configuration: PostgresConfiguration(url: database.url, maxConnections: 8))
                let redis = RedisClient(configuration: try RedisConfiguration(url: TestEnvironment.redisURL()))
                let keys = RedisKeys(prefix: TestEnvironment.uniqueName("pipeline"))
                try await Schema.migrate(postgres, logger: logger)
                let root = TestEnvironment.repositoryRoot.path
                // The worker runs as the platform chart's worker service account, held to its RBAC and
                // admission policy; `kube` (the admin) is only for the test's own reads and changes.
                let identities = try await sim.platformIdentities()
                let settings = try ProvisioningSettings(from: ConfigurationReader([
                    "HELM_BIN": TestEnvironment.productsDirectory.appendingPathComponent("helm-sim").path, "CHARTS_DIR": "\(root)/charts", "READINESS_TIMEOUT": "60s",
                    "STORE_ROLE_BINDINGS": identities.storeRoleBindings,
                ].merging(extra) { $1 }))
                let kube = KubeClient(configuration: try KubeConfiguration.kubeconfig(at: "\(sim.directory.path)/kubeconfig"))
                let workerConfiguration = try KubeConfiguration.kubeconfig(at: identities.workerKubeconfig)
                var provisioner = Provisioner(kube: KubeClient(configuration: workerConfiguration), postgres: postgres, settings: settings,
                                              kubeconfig: workerConfiguration.kubeconfigPath)
                // A rollout's job enqueues its stores' update jobs through the queue, as the worker's does.
                provisioner.queue = JobQueue(postgres: postgres, redis: redis, keys: keys, logger: logger, cancelHooks: StoreJobHooks.onCancelled)
                var engine = JobWorkerSettings(workerID: TestEnvironment.uniqueName("w"), concurrency: 4)
                engine.renewInterval = 0.3
                engine.pollWait = 0.2
                engine.maintenanceInterval = 0.3
                engine.busyDelay = 0.2
                let worker = JobWorker(settings: engine, postgres: postgres, redis: redis, keys: keys, definitions: provisioner.definitions(), logger: logger)
                let running = Task { if inProcessWorker { await worker.run() } }
                let queue = JobQueue(postgres: postgres, redis: redis, keys: keys, logger: logger)
                do {
                    try await body(Stack(sim: sim, postgres: postgres, queue: queue, kube: kube, keys: keys, databaseURL: database.url, provisioner: provisioner))
                } catch {
                    worker.shutdown()
                    await running.value
                    throw error
                }
                worker.shutdown()
                await running.value
                await postgres.shutdown()
                await redis.shutdown()
            }
        }
    }

    func createStore(_ stack: Stack, engine: String) async throws -> (id: UUID, tenant: UUID, name: String) {
        let tenant = UUID()
        let store = UUID()
        let name = "shop-\(TestEnvironment.uniqueName("x").suffix(6))"
        try await stack.postgres.query("INSERT INTO tenants (id, name) VALUES (\(tenant), \(tenant.uuidString))")
        try await stack.postgres.query("""
            INSERT INTO stores (id, tenant_id, name, engine, status, namespace)
            VALUES (\(store), \(tenant), \(name), \(engine), 'provisioning', \("store-" + name))
            """)
        return (store, tenant, name)
    }

    func run(_ stack: Stack, kind: String, steps: [String], store: UUID, tenant: UUID) async throws -> JobSnapshot {
        let id = try await stack.queue.enqueue(NewJob(kind: kind, steps: steps, storeID: store, tenantID: tenant))
        return try await finished(stack, id)
    }

    /// The job once it has ended, with its transitions.
    func finished(_ stack: Stack, _ id: UUID, within seconds: Double = 90) async throws -> JobSnapshot {
        try await eventually(within: seconds) { () throws -> JobSnapshot in
            guard let job = try await stack.queue.snapshot(id, includeTransitions: true), job.status.isTerminal else { throw CancellationError() }
            return job
        }
    }

    @Test("create provisions namespace, guardrails, secrets and release and marks the store ready; delete removes it all",
          arguments: ["woocommerce", "medusa"])
    func createAndDelete(_ engine: String) async throws {
        try await withStack { stack in
            let store = try await createStore(stack, engine: engine)
            let namespace = "store-\(store.name)"
            let created = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(created.status == .succeeded, "\(created.error ?? "") \(created.steps.map { "\($0.name): \($0.message ?? "")" })")
            #expect(created.steps.allSatisfy { $0.status == .succeeded })
            // Readiness ends with the store's own API listing the products its setup Job seeded.
            let readiness = created.steps.first { $0.name == "readiness" }
            #expect(readiness?.message == "all workloads ready; the storefront lists \(engine == "medusa" ? 4 : 5) products", "\(readiness?.message ?? "")")

            let row = try #require(try await stack.postgres.query("SELECT status, storefront_url, admin_url FROM stores WHERE id = \(store.id)").first)
            #expect(try row.decode("status", as: String.self) == "ready")
            #expect(try row.decode("storefront_url", as: String.self) == "http://\(store.name).127.0.0.1.nip.io/")
            #expect(try row.decode("admin_url", as: String.self).hasSuffix(engine == "medusa" ? "/app" : "/wp-admin/"))

            let ns = try await stack.kube.get("/api/v1/namespaces/\(namespace)")
            #expect(ns.at("metadata", "labels", "storefleet.io/store-id")?.string == store.id.uuidString.lowercased())
            #expect(ns.at("metadata", "labels", "pod-security.kubernetes.io/enforce")?.string == "restricted")
            #expect(ns.at("metadata", "labels", "pod-security.kubernetes.io/enforce-version")?.string == "v1.30")
            #expect(ns.at("metadata", "labels", "pod-security.kubernetes.io/warn")?.string == "restricted")
            let quota = try await stack.kube.get("/api/v1/namespaces/\(namespace)/resourcequotas/storefleet-quota")
            #expect(quota.at("spec", "hard", "services.loadbalancers")?.string == "0")
            let policies = try await stack.kube.get("/apis/networking.k8s.io/v1/namespaces/\(namespace)/networkpolicies")["items"]?.arrayValue ?? []
            let policyNames = Set(policies.compactMap { $0.at("metadata", "name")?.string })
            #expect(policyNames.isSuperset(of: ["default-deny", "allow-dns", "allow-ingress-controller", "allow-internet"]))
            let secret = try await stack.kube.get("/api/v1/namespaces/\(namespace)/secrets/store-credentials")
            let password = secret.at("data", "admin-password")?.string.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
            #expect((password?.count ?? 0) >= 24)
            #expect(secret["stringData"] == nil, "the API server folds stringData into data")
            let workloads = try await stack.kube.get("/apis/apps/v1/namespaces/\(namespace)/deployments")["items"]?.arrayValue ?? []
            #expect(!workloads.isEmpty)
            try await validateSentObjects(stack.sim)

            // Running the whole create again changes nothing that matters: same credentials, still ready.
            let again = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(again.status == .succeeded)
            let secretAfter = try await stack.kube.get("/api/v1/namespaces/\(namespace)/secrets/store-credentials")
            let passwordAfter = secretAfter.at("data", "admin-password")?.string.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
            #expect(passwordAfter == password)

            try await stack.postgres.query("UPDATE stores SET status = 'deleting' WHERE id = \(store.id)")
            let deleted = try await run(stack, kind: StoreJobKinds.deleteKind, steps: StoreJobKinds.deleteSteps, store: store.id, tenant: store.tenant)
            #expect(deleted.status == .succeeded, "\(deleted.error ?? "")")
            let status = try await stack.postgres.query("SELECT status FROM stores WHERE id = \(store.id)").first?.decode("status", as: String.self)
            #expect(status == "deleted")
            let gone = await #expect(throws: KubeError.self) { try await stack.kube.get("/api/v1/namespaces/\(namespace)") }
            #expect(gone?.reason == .notFound)
        }
    }

    /// Every object the worker itself sent (applied under its field manager, or created) passes
    /// kubernetes-validate --strict against a current Kubernetes schema.
    func validateSentObjects(_ sim: SimulatorHarness) async throws {
        let sent = sim.simulator.requests.filter { request in
            request.status < 300 && !request.body.isEmpty
                && (request.query.contains("fieldManager=storefleet") || (request.method == "POST" && request.contentType == "application/json" && request.path.hasSuffix("/secrets")))
        }
        #expect(sent.count >= 9, "namespace, quota, limit range, six network policies and the secret")
        let directory = sim.directory.appendingPathComponent("sent-objects")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var files: [String] = []
        for request in sent {
            let file = directory.appendingPathComponent("object-\(request.sequence).json")
            try request.body.write(to: file, atomically: true, encoding: .utf8)
            files.append(file.path)
        }
        let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/kubernetes-validate" }
            + [TestEnvironment.repositoryRoot.appendingPathComponent(".tools/venv/bin/kubernetes-validate").path]
        guard let validator = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestEnvironment.Missing(variable: "kubernetes-validate (run scripts/install-tools.sh)")
        }
        let outcome = try await ChildProcess.run(validator, ["--strict", "--kubernetes-version", "1.33.0"] + files, timeout: 120)
        #expect(outcome.succeeded, "kubernetes-validate: \(outcome.standardOutput) \(outcome.standardError)")
    }

    @Test("injected API errors (500 on writes, 429 with Retry-After on reads) are retried and the store still becomes ready")
    func transientFaultsAreRetried() async throws {
        try await withStack { stack in
            var faults = FaultSettings()
            // On the worker's own calls: helm does not retry a 500 (its stand-in neither), so 40% of failed
            // applies would fail nearly every helm run; helm's faults are the chaos suite's business.
            faults.errors = [
                .init(verb: "apply", resource: "*", rate: 0.5, status: 500, userAgent: "storefleet"),
                .init(verb: "create", resource: "*", rate: 0.4, status: 500, userAgent: "storefleet"),
                .init(verb: "get", resource: "*", rate: 0.5, status: 429, retryAfter: 1, userAgent: "storefleet"),
                // Half the lists too: with the few reads a create makes, 0.3 left no 429 at all about once in 30 runs.
                .init(verb: "list", resource: "*", rate: 0.5, status: 429, retryAfter: 1, userAgent: "storefleet"),
            ]
            stack.sim.simulator.setFaults(faults)
            let store = try await createStore(stack, engine: "woocommerce")
            let job = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(job.status == .succeeded, "\(job.error ?? "")")
            // The faults really happened; the client retried each failed call, and any step that still
            // failed was retried by the engine with the API's reason in its message.
            let answers = Set(stack.sim.simulator.requests.map(\.status))
            #expect(answers.contains(500) && answers.contains(429))
            let retried = (job.transitions ?? []).filter { $0.status == "retrying" }
            #expect(retried.allSatisfy { ($0.message ?? "").contains("InternalError") || ($0.message ?? "").contains("TooManyRequests") })
        }
    }

    @Test("a permanent API refusal (403) fails the job at once with the API's message, and the store is failed")
    func permanentRefusalFailsFast() async throws {
        try await withStack { stack in
            var faults = FaultSettings()
            faults.errors = [.init(verb: "create", resource: "secrets", rate: 1, status: 403)]
            stack.sim.simulator.setFaults(faults)
            let store = try await createStore(stack, engine: "medusa")
            let job = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(job.status == .failed)
            #expect(job.steps.first { $0.name == "secrets" }?.attempts == 1)
            #expect(job.error?.contains("step secrets failed") == true)
            #expect(job.error?.contains("403") == true)
            let status = try await stack.postgres.query("SELECT status FROM stores WHERE id = \(store.id)").first?.decode("status", as: String.self)
            #expect(status == "failed")
        }
    }

    @Test("the setup Jobs may reach the API server's addresses and ports only, and follow them when the API server moves")
    func setupEgressFollowsTheAPIServer() async throws {
        try await withStack { stack in
            let store = try await createStore(stack, engine: "medusa")
            let ns = "store-\(store.name)"
            let created = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(created.status == .succeeded, "\(created.error ?? "")")
            let url = try #require(stack.sim.simulator.url)
            let port = try #require(URL(string: url)?.port)
            func egress() async throws -> (cidrs: [String], ports: [Int], rules: Int) {
                let policy = try await stack.kube.get("/apis/networking.k8s.io/v1/namespaces/\(ns)/networkpolicies/allow-setup-to-apiserver")
                #expect(policy.at("spec", "podSelector", "matchLabels", "app.kubernetes.io/component")?.string == "setup")
                let rules = policy.at("spec", "egress")?.arrayValue ?? []
                let rule = try #require(rules.first)
                return ((rule["to"]?.arrayValue ?? []).compactMap { $0.at("ipBlock", "cidr")?.string },
                        (rule["ports"]?.arrayValue ?? []).compactMap { $0["port"]?.int }, rules.count)
            }
            // The Service's cluster IP and the EndpointSlice's address, on their ports: no rule without a `to`.
            let before = try await egress()
            #expect(before.rules == 1)
            #expect(before.cidrs == ["10.96.0.1/32", "127.0.0.1/32"])
            #expect(before.ports == [443, port].sorted())
            let marked = try await stack.kube.get("/api/v1/namespaces/\(ns)").at("metadata", "annotations", "storefleet.io/setup-egress")?.string
            #expect(marked == "10.96.0.1,127.0.0.1;\([443, port].sorted().map(String.init).joined(separator: ","))")

            // The API server moves (a control-plane node replaced): the refresher, as the worker runs it,
            // rewrites the policy of every store namespace still naming the old address, and only those.
            _ = try await stack.kube.send("PATCH", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes",
                                          body: Array((["endpoints": [["addresses": ["10.0.0.7"], "conditions": ["ready": true]]]] as JSON).serialized()),
                                          contentType: "application/merge-patch+json")
            let refresher = SetupEgressRefresher(provisioner: stack.provisioner, logger: Logger(label: "refresher-test"))
            let (addresses, updated) = try await refresher.pass()
            #expect(addresses.ips == ["10.0.0.7", "10.96.0.1"])
            #expect(updated == 1)
            #expect(try await egress().cidrs == ["10.0.0.7/32", "10.96.0.1/32"])
            #expect(try await refresher.pass().updated == 0, "nothing is rewritten when nothing changed")
            #expect(try await refresher.pass(since: addresses).updated == 0)
        }
    }

    @Test("a worker that may not read where the API server answers fails guardrails at once, saying what to grant")
    func setupEgressNeedsTheAPIServerAddresses() async throws {
        try await withStack { stack in
            #expect(try await stack.kube.delete("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/sf-apiserver-endpoints"))
            let store = try await createStore(stack, engine: "woocommerce")
            let created = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(created.status == .failed)
            let guardrails = try #require(created.steps.first { $0.name == "guardrails" })
            #expect(guardrails.status == .failed && guardrails.attempts == 1, "a refusal is not retried")
            #expect(created.error?.contains("kubernetes Service and EndpointSlice in default") == true, "\(created.error ?? "")")
        }
    }

    @Test("a delete arriving during a create cancels it and leaves nothing behind")
    func deleteDuringCreate() async throws {
        try await withStack { stack in
            var timing = SimulatorTiming()
            timing.readyDelay = 4
            timing.jobDelay = 4
            timing.namespaceDeletionDelay = 0.3
            stack.sim.simulator.setTiming(timing)
            let store = try await createStore(stack, engine: "woocommerce")
            let create = try await stack.queue.enqueue(NewJob(kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, storeID: store.id, tenantID: store.tenant))
            try await eventually(within: 60) {
                guard try await stack.queue.snapshot(create)?.steps.first(where: { $0.name == "readiness" })?.status == .running else { throw CancellationError() }
            }
            // What the gateway's DELETE does, in one transaction.
            let delete = NewJob(kind: StoreJobKinds.deleteKind, steps: StoreJobKinds.deleteSteps, storeID: store.id, tenantID: store.tenant)
            try await stack.queue.enqueue { connection, enqueuer in
                try await connection.query("UPDATE stores SET status = 'deleting' WHERE id = \(store.id)")
                try await stack.queue.store.requestCancelActive(store: store.id, except: nil, reason: "superseded by a delete", on: connection)
                try await enqueuer.insert(delete, on: connection)
            }
            let finished = try await eventually(within: 90) { () throws -> JobSnapshot in
                guard let job = try await stack.queue.snapshot(delete.id), job.status.isTerminal else { throw CancellationError() }
                return job
            }
            #expect(finished.status == .succeeded, "\(finished.error ?? "")")
            #expect(try await stack.queue.snapshot(create)?.status == .cancelled)
            let status = try await stack.postgres.query("SELECT status FROM stores WHERE id = \(store.id)").first?.decode("status", as: String.self)
            #expect(status == "deleted")
            let gone = await #expect(throws: KubeError.self) { try await stack.kube.get("/api/v1/namespaces/store-\(store.name)") }
            #expect(gone?.reason == .notFound)
        }
    }

    @Test("a namespace that belongs to another store fails the create at once, without naming the owner; deleting the store leaves it alone")
    func foreignNamespace() async throws {
        try await withStack { stack in
            let store = try await createStore(stack, engine: "woocommerce")
            let namespace = "store-\(store.name)"
            let other = UUID().uuidString.lowercased()
            try await stack.kube.create("/api/v1/namespaces", ["metadata": ["name": .string(namespace), "labels": ["storefleet.io/store-id": .string(other)]]])
            try await stack.kube.create("/api/v1/namespaces/\(namespace)/secrets", [
                "metadata": ["name": "store-credentials", "labels": ["storefleet.io/store-id": .string(other)]], "stringData": ["admin-password": "theirs"],
            ])
            let job = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(job.status == .failed)
            #expect(job.error?.contains("does not belong to this store") == true, "\(job.error ?? "")")
            #expect(job.error?.contains(other) == false, "another store's ID is not shown")
            #expect(job.steps[0].attempts == 1)
            let status = try await stack.postgres.query("SELECT status, last_error FROM stores WHERE id = \(store.id)").first
            #expect(try status?.decode("status", as: String.self) == "failed")
            #expect(try status?.decode("last_error", as: String?.self)?.contains("does not belong to this store") == true)

            try await stack.postgres.query("UPDATE stores SET status = 'deleting' WHERE id = \(store.id)")
            let deleted = try await run(stack, kind: StoreJobKinds.deleteKind, steps: StoreJobKinds.deleteSteps, store: store.id, tenant: store.tenant)
            #expect(deleted.status == .succeeded, "\(deleted.error ?? "")")
            #expect(deleted.steps.first { $0.name == "namespace" }?.message?.contains("left alone") == true)
            let kept = try await stack.kube.get("/api/v1/namespaces/\(namespace)")
            #expect(kept.at("metadata", "labels", "storefleet.io/store-id")?.string == other)
            #expect(kept.at("metadata", "deletionTimestamp") == nil, "the other owner's namespace is not deleted")
            #expect(try await stack.kube.get("/api/v1/namespaces/\(namespace)/secrets/store-credentials").at("metadata", "name")?.string == "store-credentials")
        }
    }

    @Test("a delete finds the namespace already terminating (a lost answer, or FAILED_STORE_POLICY=delete) and still succeeds")
    func deleteOfTerminatingNamespace() async throws {
        try await withStack { stack in
            let store = try await createStore(stack, engine: "medusa")
            let namespace = "store-\(store.name)"
            let created = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(created.status == .succeeded, "\(created.error ?? "")")
            var timing = SimulatorTiming()
            timing.namespaceDeletionDelay = 3
            stack.sim.simulator.setTiming(timing)
            #expect(try await stack.kube.delete("/api/v1/namespaces/\(namespace)"))
            // A current API server answers a second delete while the first is under way with the object.
            #expect(try await stack.kube.delete("/api/v1/namespaces/\(namespace)"))

            try await stack.postgres.query("UPDATE stores SET status = 'deleting' WHERE id = \(store.id)")
            let deleted = try await run(stack, kind: StoreJobKinds.deleteKind, steps: StoreJobKinds.deleteSteps, store: store.id, tenant: store.tenant)
            #expect(deleted.status == .succeeded, "\(deleted.error ?? "") \(deleted.steps.map { "\($0.name): \($0.message ?? "")" })")
            #expect(deleted.steps.allSatisfy { $0.attempts == 1 }, "nothing had to be retried")
            let status = try await stack.postgres.query("SELECT status FROM stores WHERE id = \(store.id)").first?.decode("status", as: String.self)
            #expect(status == "deleted")
        }
    }

    @Test("FAILED_STORE_POLICY=delete removes a failed store's namespace, never another owner's, and a retry starts over")
    func failedStorePolicyDelete() async throws {
        try await withStack(settings: ["FAILED_STORE_POLICY": "delete"]) { stack in
            var faults = FaultSettings()
            faults.errors = [.init(verb: "create", resource: "secrets", rate: 1, status: 403)]
            stack.sim.simulator.setFaults(faults)
            let store = try await createStore(stack, engine: "woocommerce")
            let job = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(job.status == .failed)
            #expect(job.error?.contains("namespace store-\(store.name) is deleted next: FAILED_STORE_POLICY=delete") == true, "\(job.error ?? "")")
            // Deleted once the failure is recorded (a claim that could not record it deletes nothing).
            try await eventually(within: 30) {
                let namespace = try? await stack.kube.get("/api/v1/namespaces/store-\(store.name)")
                guard namespace == nil || namespace?.at("metadata", "deletionTimestamp") != nil else { throw CancellationError() }
            }
            #expect(job.currentStep == 0, "a retry starts from the namespace step")

            let foreign = try await createStore(stack, engine: "woocommerce")
            let other = UUID().uuidString.lowercased()
            try await stack.kube.create("/api/v1/namespaces", ["metadata": ["name": .string("store-\(foreign.name)"), "labels": ["storefleet.io/store-id": .string(other)]]])
            let refused = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: foreign.id, tenant: foreign.tenant)
            #expect(refused.status == .failed)
            #expect(refused.error?.contains("deleted") == false, "\(refused.error ?? "")")
            let kept = try await stack.kube.get("/api/v1/namespaces/store-\(foreign.name)")
            #expect(kept.at("metadata", "deletionTimestamp") == nil, "another owner's namespace is never deleted")
        }
    }

    @Test("a setup Job that failed for good fails readiness at once with the Job's reason and where to look; a retry runs it anew")
    func failedSetupJob() async throws {
        try await withStack(settings: ["READINESS_TIMEOUT": "90s"]) { stack in
            var faults = FaultSettings()
            faults.failJobs = ["-setup-"]
            stack.sim.simulator.setFaults(faults)
            let store = try await createStore(stack, engine: "medusa")
            let job = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(job.status == .failed)
            let readiness = try #require(job.steps.first { $0.name == "readiness" })
            // A failed Job does not heal by waiting: its failure is never retried. (The attempt count alone
            // is not the measure: on a loaded machine a step can be handed back for a lease at risk.)
            let history = (job.transitions ?? []).filter { $0.step == "readiness" }
            #expect(!history.contains { $0.status == "retrying" && ($0.message ?? "").contains("setup job") },
                    "\(history.map { "\($0.status) \($0.message ?? "")" })")
            #expect(readiness.status == .failed)
            #expect(job.error?.contains("BackoffLimitExceeded") == true, "\(job.error ?? "")")
            #expect(job.error?.contains("kubectl -n store-\(store.name) logs job/") == true)

            // What the message asks for: the cause fixed, the store retried. The failed Job would never
            // run again, so the retry deletes it and releases again, and the new setup Job succeeds.
            stack.sim.simulator.setFaults(FaultSettings())
            let failedJob = try #require(try await stack.kube.get(
                "/apis/batch/v1/namespaces/store-\(store.name)/jobs", query: [("labelSelector", "app.kubernetes.io/component=setup")]
            )["items"]?.arrayValue?.first)
            let step = try await stack.postgres.withConnection { try await stack.queue.store.requeueFailed(job.id, on: $0) }
            #expect(step == 4, "the retry resumes at readiness")
            await stack.queue.dispatch([job.id])
            let again = try await finished(stack, job.id)
            #expect(again.status == .succeeded, "\(again.error ?? "") \(again.steps.map { "\($0.name): \($0.message ?? "")" })")
            let setup = try #require(try await stack.kube.get(
                "/apis/batch/v1/namespaces/store-\(store.name)/jobs", query: [("labelSelector", "app.kubernetes.io/component=setup")]
            )["items"]?.arrayValue?.first)
            #expect(setup.at("metadata", "uid") != failedJob.at("metadata", "uid"), "a new setup Job ran")
            #expect((setup.at("status", "succeeded")?.int ?? 0) >= 1)
        }
    }

    @Test("a workload counts as rolled out only when its replicas are updated to the current spec and ready")
    func rolloutRule() throws {
        func workload(_ status: JSON, replicas: Int = 2, generation: Int = 3) -> JSON {
            ["metadata": ["generation": .number(Double(generation))], "spec": ["replicas": .number(Double(replicas))], "status": status]
        }
        #expect(Provisioner.rolledOut(workload(["observedGeneration": 3, "updatedReplicas": 2, "readyReplicas": 2])))
        #expect(!Provisioner.rolledOut(workload(["observedGeneration": 3, "updatedReplicas": 1, "readyReplicas": 2])), "old pods still serve")
        #expect(!Provisioner.rolledOut(workload(["observedGeneration": 3, "replicas": 3, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2])),
                "an old pod is still there")
        #expect(!Provisioner.rolledOut(workload(["observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 1])),
                "an updated pod is not available yet")
        #expect(!Provisioner.rolledOut(workload(["observedGeneration": 2, "updatedReplicas": 2, "readyReplicas": 2])), "the new spec is not seen yet")
        #expect(!Provisioner.rolledOut(workload(["observedGeneration": 3, "updatedReplicas": 2, "readyReplicas": 2,
                                                 "currentRevision": "db-1", "updateRevision": "db-2"])), "a StatefulSet mid-rollout")
    }

    @Test("a delete that fails for good leaves the store failed with the reason, not stuck deleting")
    func failedDelete() async throws {
        try await withStack { stack in
            let store = try await createStore(stack, engine: "woocommerce")
            let created = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(created.status == .succeeded, "\(created.error ?? "")")
            var faults = FaultSettings()
            faults.errors = [.init(verb: "delete", resource: "namespaces", rate: 1, status: 403)]
            stack.sim.simulator.setFaults(faults)
            try await stack.postgres.query("UPDATE stores SET status = 'deleting' WHERE id = \(store.id)")
            let deleted = try await run(stack, kind: StoreJobKinds.deleteKind, steps: StoreJobKinds.deleteSteps, store: store.id, tenant: store.tenant)
            #expect(deleted.status == .failed)
            let row = try #require(try await stack.postgres.query("SELECT status, last_error FROM stores WHERE id = \(store.id)").first)
            #expect(try row.decode("status", as: String.self) == "failed")
            #expect(try row.decode("last_error", as: String?.self)?.contains("step namespace failed") == true)
        }
    }

    @Test("a store whose storefront lists no products fails readiness with what to look at, not after the whole timeout")
    func emptyCatalogFailsReadiness() async throws {
        try await withStack { stack in
            var faults = FaultSettings()
            faults.emptyCatalog = ["*"]
            stack.sim.simulator.setFaults(faults)
            let store = try await createStore(stack, engine: "woocommerce")
            let job = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(job.status == .failed)
            #expect(job.error?.contains("step readiness failed") == true, "\(job.error ?? "")")
            #expect(job.error?.contains("lists no products although the setup Job succeeded") == true)
            #expect(job.error?.contains("kubectl -n store-\(store.name) logs") == true)
            let status = try await stack.postgres.query("SELECT status FROM stores WHERE id = \(store.id)").first?.decode("status", as: String.self)
            #expect(status == "failed")
        }
    }

    @Test("a crash between creating the namespace and binding the worker in it: the next attempt binds, then converges, and the store becomes ready")
    func crashBeforeTheBindings() async throws {
        try await withStack { stack in
            let store = try await createStore(stack, engine: "woocommerce")
            // What the first attempt left: its namespace, labelled as this store's, and no RoleBinding, so
            // the worker holds no right inside it yet.
            try await stack.kube.create("/api/v1/namespaces", ["metadata": ["name": .string("store-\(store.name)"), "labels": [
                "app.kubernetes.io/managed-by": "storefleet", "storefleet.io/store-id": .string(store.id.uuidString.lowercased()),
                "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.30"]]])
            let job = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(job.status == .succeeded, "\(job.error ?? "")")
            let bindings = try await stack.kube.get("/apis/rbac.authorization.k8s.io/v1/namespaces/store-\(store.name)/rolebindings")
            let names = Set((bindings["items"]?.arrayValue ?? []).compactMap { $0.at("metadata", "name")?.string })
            #expect(names.isSuperset(of: ["sf-store-manager", "sf-store-reader"]), "\(names)")
        }
    }

    @Test("a store that answers 403 (a firewall) or 500 (a broken plugin) itself is asked again and named as the one answering, not taken for missing RBAC",
          arguments: [403, 500])
    func storefrontsOwnRefusalIsRetried(_ status: Int) async throws {
        try await withStack { stack in
            var faults = FaultSettings()
            if status == 403 { faults.storefrontForbidden = ["*"] } else { faults.storefrontError = ["*"] }
            stack.sim.simulator.setFaults(faults)
            let store = try await createStore(stack, engine: "woocommerce")
            let id = try await stack.queue.enqueue(NewJob(kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, storeID: store.id, tenantID: store.tenant))
            let waiting = try await eventually(within: 60) { () throws -> String in
                guard let job = try await stack.queue.snapshot(id), let message = job.steps.first(where: { $0.name == "readiness" })?.message,
                      message.contains("\(status)") else { throw CancellationError() }
                return message
            }
            #expect(waiting.contains(status == 403 ? "403 from the store, not from Kubernetes" : "answered 500: \"<html><body><h1>There has been a critical error"), "\(waiting)")
            #expect(try await stack.queue.snapshot(id)?.status == .running, "a store's own refusal is not a permanent failure")
            stack.sim.simulator.setFaults(FaultSettings())
            let job = try await finished(stack, id, within: 60)
            #expect(job.status == .succeeded, "\(job.error ?? "")")
        }
    }

    @Test("only a publishable key's shape is sent as a header; anything else in the ConfigMap fails readiness and is not sent")
    func publishableKeyIsValidated() {
        #expect(StorefrontCheck.isPublishableKey("pk_sim_0123abcd"))
        #expect(StorefrontCheck.isPublishableKey("pk_" + String(repeating: "a", count: 64)))
        #expect(!StorefrontCheck.isPublishableKey("pk_x\r\nX-Injected: 1"))
        #expect(!StorefrontCheck.isPublishableKey("pk_"))
        #expect(!StorefrontCheck.isPublishableKey("sk_secret"))
        #expect(!StorefrontCheck.isPublishableKey("pk_" + String(repeating: "a", count: 201)))
        #expect(!StorefrontCheck.isPublishableKey("pk_é"))
    }

    /// `hang`: helm dies before applying anything. `hangAfterApply`: every object is there, the pods
    /// run and mount the store's claim, when it dies (what a real API server showed never recovered:
    /// the remedy's uninstall left the claim terminating and the reinstall updated it instead).
    @Test("a worker process killed mid-release takes its helm with it; another worker waits out helm's budget, remediates the pending release, and the store ends ready with its volume, once",
          arguments: ["hang", "hangAfterApply"])
    func workerKilledMidRelease(_ fault: String) async throws {
        try await withStack(inProcessWorker: false) { stack in
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("killed"))
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: scratch) }
            let faults = scratch.appendingPathComponent("helm-faults.json")
            let journal = scratch.appendingPathComponent("helm-journal.jsonl")
            let store = try await createStore(stack, engine: "woocommerce")
            try Data(#"{"\#(fault)": ["\#(store.name)"]}"#.utf8).write(to: faults)

            let root = TestEnvironment.repositoryRoot.path
            var environment = ProcessInfo.processInfo.environment
            environment["DATABASE_URL"] = stack.databaseURL
            environment["REDIS_URL"] = try TestEnvironment.redisURL()
            environment["REDIS_KEY_PREFIX"] = stack.keys.prefix
            environment["KUBECONFIG"] = "\(stack.sim.directory.path)/kubeconfig"
            environment["HELM_BIN"] = TestEnvironment.productsDirectory.appendingPathComponent("helm-sim").path
            environment["CHARTS_DIR"] = "\(root)/charts"
            environment["HELM_SIM_FAULTS"] = faults.path
            environment["HELM_SIM_JOURNAL"] = journal.path
            environment["WORKER_HTTP_PORT"] = "0"
            environment["LOG_LEVEL"] = "error"
            // helm's budget: how long a pending revision may be an earlier attempt's helm at work.
            environment["RELEASE_TIMEOUT"] = "10s"
            environment["READINESS_TIMEOUT"] = "40s"
            let program = TestEnvironment.productsDirectory.appendingPathComponent("storefleet-worker").path
            environment["WORKER_ID"] = "victim"
            let victim = try ChildProcess.spawn(program, [], environment: environment)
            var survivor: RunningProcess?
            defer {
                victim.signal(SIGKILL)
                survivor?.signal(SIGKILL)
            }

            let id = try await stack.queue.enqueue(NewJob(kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, storeID: store.id, tenantID: store.tenant))
            // helm is inside the install, with the release pending, when the worker dies; with
            // hangAfterApply, once the store's pods run.
            let helmPID = try await eventually(within: 60) { () throws -> Int32 in
                let lines = ((try? String(contentsOf: journal, encoding: .utf8)) ?? "").split(separator: "\n")
                guard let start = lines.compactMap({ try? JSON(parsing: Data($0.utf8)) }).first(where: { $0["event"]?.string == "start" }),
                      let pid = start["pid"]?.int else { throw CancellationError() }
                return Int32(pid)
            }
            var claimBefore: String?
            if fault == "hangAfterApply" {
                try await eventually(within: 30) {
                    let pods = try await stack.kube.get("/api/v1/namespaces/store-\(store.name)/pods")
                    let running = (pods["items"]?.arrayValue ?? []).filter { $0.at("status", "phase")?.string == "Running" }
                    guard running.contains(where: { Self.mounts($0, claim: "\(store.name)-wp-content") }) else { throw CancellationError() }
                }
                claimBefore = try await stack.kube.get("/api/v1/namespaces/store-\(store.name)/persistentvolumeclaims/\(store.name)-wp-content")
                    .at("metadata", "uid")?.string
            }
            try await Task.sleep(for: .milliseconds(500))
            let killedAt = Date()
            victim.signal(SIGKILL)
            _ = await victim.wait()
            // The kernel ends helm with its worker (a parent-death signal): nothing runs on for the lost claim.
            try await eventually(within: 10) {
                let state = (try? String(contentsOfFile: "/proc/\(helmPID)/stat", encoding: .utf8))?.split(separator: " ").dropFirst(2).first
                guard state == nil || state == "Z" else { throw CancellationError() }
            }

            try Data("{}".utf8).write(to: faults)
            environment["WORKER_ID"] = "survivor"
            survivor = try ChildProcess.spawn(program, [], environment: environment)
            let job = try await eventually(within: 120) { () throws -> JobSnapshot in
                guard let job = try await stack.queue.snapshot(id, includeTransitions: true), job.status.isTerminal else { throw CancellationError() }
                return job
            }
            #expect(job.status == .succeeded, "\(job.error ?? "") \(job.steps.map { "\($0.name): \($0.message ?? "")" })")
            let release = (job.transitions ?? []).filter { $0.step == "release" }
            #expect(release.first?.workerID == "victim")
            #expect(release.contains { $0.status == "retrying" && ($0.message ?? "").contains("stopped renewing its lease") }, "\(release.map { "\($0.status): \($0.message ?? "")" })")
            #expect(release.last?.status == "succeeded" && release.last?.workerID == "survivor")
            // The survivor cannot tell a dead worker from a frozen one whose helm runs on: it leaves the
            // pending revision alone until it is older than any earlier attempt's helm could run.
            #expect(release.contains { $0.status == "retrying" && ($0.message ?? "").contains("may still be running") }, "\(release.map { "\($0.status): \($0.message ?? "")" })")
            let resumed = try #require(release.first { $0.status == "running" && $0.workerID == "survivor" }?.at)
            #expect(resumed.timeIntervalSince(killedAt) < 15, "recovered after \(resumed.timeIntervalSince(killedAt))s")
            let steps = Dictionary(uniqueKeysWithValues: job.steps.map { ($0.name, $0) })
            #expect(steps["namespace"]?.attempts == 1 && steps["guardrails"]?.attempts == 1 && steps["secrets"]?.attempts == 1,
                    "finished steps are not repeated")

            // The pending install was remediated (uninstalled) and installed again: one deployed
            // revision, nothing left pending, the store ready and selling.
            let entries = ((try? String(contentsOf: journal, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? JSON(parsing: Data($0.utf8)) }
            #expect(entries.contains { $0["event"]?.string == "end" && $0["operation"]?.string == "uninstall" })
            let secrets = try await stack.kube.get("/api/v1/namespaces/store-\(store.name)/secrets", query: [("labelSelector", "owner=helm,name=\(store.name)")])
            let statuses = (secrets["items"]?.arrayValue ?? []).compactMap { $0.at("metadata", "labels", "status")?.string }
            #expect(statuses == ["deployed"], "release revisions: \(statuses)")
            let row = try #require(try await stack.postgres.query("SELECT status FROM stores WHERE id = \(store.id)").first)
            #expect(try row.decode("status", as: String.self) == "ready")
            #expect(steps["readiness"]?.message?.contains("the storefront lists 5 products") == true)
            // The store's volume is there, not terminating, and mounted by its running web pod.
            let claim = try await stack.kube.get("/api/v1/namespaces/store-\(store.name)/persistentvolumeclaims/\(store.name)-wp-content")
            #expect(claim.at("metadata", "deletionTimestamp") == nil)
            let pods = try await stack.kube.get("/api/v1/namespaces/store-\(store.name)/pods")
            #expect((pods["items"]?.arrayValue ?? []).contains { $0.at("status", "phase")?.string == "Running" && Self.mounts($0, claim: "\(store.name)-wp-content") })
            if let claimBefore {
                // The remedy's uninstall removed the claim (no data yet: the first install never
                // finished) and the install made a new one once the old was gone, not the dying one.
                #expect(claim.at("metadata", "uid")?.string != claimBefore)
            }
        }
    }

    @Test("readiness re-checks the release: a claim gone from under the store's pods is released again, and the store ends ready")
    func readinessRepairsTheRelease() async throws {
        try await withStack(settings: ["READINESS_TIMEOUT": "90s"]) { stack in
            let store = try await createStore(stack, engine: "woocommerce")
            let created = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(created.status == .succeeded, "\(created.error ?? "")")
            // What an install over a dying claim leaves: the web pod's claim gone, its new pod unschedulable.
            let namespace = "store-\(store.name)", claim = "\(store.name)-wp-content"
            _ = try await stack.kube.send("DELETE", "/api/v1/namespaces/\(namespace)/persistentvolumeclaims/\(claim)")
            let pods = try await stack.kube.get("/api/v1/namespaces/\(namespace)/pods")
            for pod in (pods["items"]?.arrayValue ?? []) where Self.mounts(pod, claim: claim) {
                _ = try await stack.kube.send("DELETE", "/api/v1/namespaces/\(namespace)/pods/\(pod.at("metadata", "name")?.string ?? "")")
            }
            try await eventually(within: 20) {
                let found = try? await stack.kube.get("/api/v1/namespaces/\(namespace)/persistentvolumeclaims/\(claim)")
                guard found == nil else { throw CancellationError() }
            }
            let unschedulable = try await eventually(within: 20) { () throws -> JSON in
                let pods = try await stack.kube.get("/api/v1/namespaces/\(namespace)/pods")
                guard let pod = (pods["items"]?.arrayValue ?? []).first(where: {
                    Self.mounts($0, claim: claim) && $0.at("metadata", "deletionTimestamp") == nil && $0.at("status", "phase")?.string == "Pending"
                }) else { throw CancellationError() }
                return pod
            }
            #expect((unschedulable.at("status", "conditions")?.arrayValue ?? []).contains { ($0["message"]?.string ?? "").contains("persistentvolumeclaim \"\(claim)\" not found") })

            // The job as a readiness that timed out leaves it, then retried as the API retries it:
            // readiness repairs the release instead of waiting out its timeout again.
            try await stack.postgres.query("""
                UPDATE jobs SET status = 'failed', current_step = 4, finished_at = now() WHERE id = \(created.id)
                """)
            try await stack.postgres.query("""
                UPDATE job_steps SET status = CASE name WHEN 'readiness' THEN 'failed' ELSE 'pending' END
                WHERE job_id = \(created.id) AND name IN ('readiness', 'finalize')
                """)
            let step = try await stack.postgres.withConnection { try await stack.queue.store.requeueFailed(created.id, on: $0) }
            #expect(step == 4)
            await stack.queue.dispatch([created.id])
            let started = Date()
            let again = try await finished(stack, created.id)
            #expect(again.status == .succeeded, "\(again.error ?? "") \(again.steps.map { "\($0.name): \($0.message ?? "")" })")
            #expect(Date().timeIntervalSince(started) < 60, "repaired, not waited out")
            let restored = try await stack.kube.get("/api/v1/namespaces/\(namespace)/persistentvolumeclaims/\(claim)")
            #expect(restored.at("metadata", "deletionTimestamp") == nil)
            let after = try await stack.kube.get("/api/v1/namespaces/\(namespace)/pods")
            #expect((after["items"]?.arrayValue ?? []).contains { Self.mounts($0, claim: claim) && $0.at("status", "phase")?.string == "Running" })
        }
    }

    @Test("a LimitRange refusal of the store's claim ends the release at once with the API server's words, not after five attempts")
    func limitRangeRefusalIsPermanent() async throws {
        // The guardrails' LimitRange allows claims of 1Mi at most; the chart asks for more.
        try await withStack(settings: ["WOOCOMMERCE_QUOTA": "max-volume=1Mi"]) { stack in
            let store = try await createStore(stack, engine: "woocommerce")
            let job = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
            #expect(job.status == .failed)
            let release = try #require(job.steps.first { $0.name == "release" })
            #expect(release.attempts == 1, "retried although no retry can change it")
            #expect((job.error ?? "").contains("LimitRange"), "\(job.error ?? "")")
            #expect((job.error ?? "").contains("is forbidden: maximum storage usage per PersistentVolumeClaim is 1Mi, but request is"), "\(job.error ?? "")")
        }
    }

    static func mounts(_ pod: JSON, claim: String) -> Bool {
        (pod.at("spec", "volumes")?.arrayValue ?? []).contains { $0.at("persistentVolumeClaim", "claimName")?.string == claim }
    }
}

import ClusterSimulator
import Foundation
@testable import Jobs
import KubeClient
import Platform
import Postgres
@testable import Provisioning
import Testing
import TestSupport

/// The update job against kube-sim and helm-sim: a new plan and application version applied, a version
/// that never becomes ready rolled back to the store's last good revision, and a rollback decided by a
/// worker that died carried on by the next one.
extension StorePipelineTests {
    /// A ready store made by the create job, as the gateway would leave it (revision 1 recorded).
    func readyStore(_ stack: Stack, engine: String = "woocommerce") async throws -> (id: UUID, tenant: UUID, name: String) {
        let store = try await createStore(stack, engine: engine)
        try await stack.postgres.query("""
            INSERT INTO store_revisions (store_id, revision, plan, tenant_id, outcome) VALUES (\(store.id), 1, 'small', \(store.tenant), 'pending')
            """)
        let created = try await run(stack, kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, store: store.id, tenant: store.tenant)
        #expect(created.status == .succeeded, "\(created.error ?? "")")
        let revision = try await stack.postgres.query("SELECT outcome FROM store_revisions WHERE store_id = \(store.id) AND revision = 1").first
        #expect(try revision?.decode("outcome", as: String.self) == "applied", "the create's finalize applies revision 1")
        return store
    }

    /// What PATCH /api/stores/:id records before it enqueues the update job.
    func requestUpdate(_ stack: Stack, store: UUID, to spec: StoreSpec, revision: Int = 2, rollbackReason: String? = nil) async throws -> UUID {
        let job = NewJob(kind: StoreJobKinds.updateKind, steps: StoreJobKinds.updateSteps, storeID: store, payload: #"{"revision":\#(revision)}"#)
        try await stack.postgres.query("""
            INSERT INTO store_revisions (store_id, revision, plan, chart_version, app_version, previous, job_id, outcome, rollback_reason)
            SELECT id, \(revision), \(spec.plan), \(spec.chartVersion), \(spec.appVersion),
                   jsonb_build_object('plan', plan, 'chartVersion', chart_version, 'appVersion', app_version), \(job.id), 'pending', \(rollbackReason)
            FROM stores WHERE id = \(store)
            """)
        try await stack.postgres.query("UPDATE stores SET status = 'updating' WHERE id = \(store)")
        return try await stack.queue.enqueue(job)
    }

    func webImage(_ stack: Stack, _ name: String) async throws -> String? {
        let deployment = try await stack.kube.get("/apis/apps/v1/namespaces/store-\(name)/deployments/\(name)-web")
        return deployment.at("spec", "template", "spec", "containers")?.arrayValue?.first?["image"]?.string
    }

    func quotaCPU(_ stack: Stack, _ name: String) async throws -> String? {
        try await stack.kube.get("/api/v1/namespaces/store-\(name)/resourcequotas/storefleet-quota").at("spec", "hard", "limits.cpu")?.string
    }

    func storeRow(_ stack: Stack, _ id: UUID) async throws -> (status: String, spec: StoreSpec, revision: Int, error: String?) {
        let row = try #require(try await stack.postgres.query("SELECT * FROM stores WHERE id = \(id)").first)
        return (try row.decode("status"), StoreSpec(plan: try row.decode("plan"), chartVersion: try row.decode("chart_version"), appVersion: try row.decode("app_version")),
                try row.decode("revision"), try row.decode("last_error"))
    }

    @Test("an update to a larger plan and a new application version re-applies guardrails, upgrades the release and makes the revision live")
    func updateAppliesPlanAndVersion() async throws {
        try await withStack { stack in
            let store = try await readyStore(stack)
            #expect(try await quotaCPU(stack, store.name) == "4", "small")
            let job = try await requestUpdate(stack, store: store.id, to: StoreSpec(plan: "medium", appVersion: "6.8.4-php8.3-apache"))
            let updated = try await finished(stack, job)
            #expect(updated.status == .succeeded, "\(updated.error ?? "") \(updated.steps.map { "\($0.name): \($0.message ?? "")" })")
            #expect(updated.steps.first { $0.name == "rollback" }?.message == "not needed: revision 2 is ready")
            #expect(try await quotaCPU(stack, store.name) == "8", "the medium plan's quota")
            #expect(try await webImage(stack, store.name) == "wordpress:6.8.4-php8.3-apache")
            let web = try await stack.kube.get("/apis/apps/v1/namespaces/store-\(store.name)/deployments/\(store.name)-web")
            #expect(web.at("spec", "template", "spec", "containers")?.arrayValue?.first?.at("resources", "limits", "cpu")?.string == "2", "the medium plan's chart values")
            let row = try await storeRow(stack, store.id)
            #expect(row.status == "ready" && row.revision == 2 && row.spec == StoreSpec(plan: "medium", appVersion: "6.8.4-php8.3-apache"))
            let revision = try #require(try await stack.postgres.query("SELECT outcome, helm_previous FROM store_revisions WHERE store_id = \(store.id) AND revision = 2").first)
            #expect(try revision.decode("outcome", as: String.self) == "applied")
            #expect(try revision.decode("helm_previous", as: Int?.self) == 1, "the helm revision a rollback would have restored")
        }
    }

    @Test("an application version that never becomes ready is rolled back: the store is ready on its old revision, the job failed with the reason")
    func neverReadyVersionIsRolledBack() async throws {
        try await withStack(settings: ["UPDATE_READINESS_TIMEOUT": "5s"]) { stack in
            let store = try await readyStore(stack)
            var faults = FaultSettings()
            faults.neverReady = ["wordpress:9.9.9-broken"]
            stack.sim.simulator.setFaults(faults)
            let before = try await webImage(stack, store.name)
            let job = try await requestUpdate(stack, store: store.id, to: StoreSpec(plan: "medium", appVersion: "9.9.9-broken"))
            let ended = try await finished(stack, job)
            #expect(ended.status == .failed)
            let error = ended.error ?? ""
            #expect(error.contains("step rollback failed: revision 2 (plan medium, chart default, app 9.9.9-broken) was rolled back: readiness failed"), "\(error)")
            #expect(error.contains("ImagePullBackOff"), "the reason names what held the new version: \(error)")
            #expect(error.contains("the store runs revision 1 (plan small, chart default, app default) again and is ready"), "\(error)")
            #expect(ended.steps.map(\.status) == [.succeeded, .succeeded, .succeeded, .failed, .cancelled], "\(ended.steps.map { "\($0.name)=\($0.status)" })")

            // Back on what it ran before: image, plan's guardrails, spec, and ready.
            #expect(try await webImage(stack, store.name) == before)
            #expect(try await quotaCPU(stack, store.name) == "4", "the small plan's quota again")
            let row = try await storeRow(stack, store.id)
            #expect(row.status == "ready", "the rollback stood, so the store serves its old revision")
            #expect(row.revision == 1 && row.spec == StoreSpec(plan: "small"))
            #expect(row.error?.contains("rolled back") == true)
            let revision = try #require(try await stack.postgres.query("SELECT outcome, rollback_reason FROM store_revisions WHERE store_id = \(store.id) AND revision = 2").first)
            #expect(try revision.decode("outcome", as: String.self) == "rolled-back")
            #expect(try revision.decode("rollback_reason", as: String?.self)?.hasPrefix("readiness failed") == true)
            // helm's own rollback: a new helm revision restoring the one deployed before the update.
            let history = try await stack.kube.get("/api/v1/namespaces/store-\(store.name)/secrets", query: [("labelSelector", "owner=helm,name=\(store.name)")])
            let statuses = (history["items"]?.arrayValue ?? []).compactMap { $0.at("metadata", "labels", "status")?.string }
            #expect(statuses.filter { $0 == "deployed" }.count == 1 && statuses.count >= 3, "\(statuses)")
        }
    }

    @Test("a rollback a dead worker decided is what the next worker carries on with: the update steps stand aside")
    func recordedRollbackDecisionIsCarriedOn() async throws {
        try await withStack(settings: ["UPDATE_READINESS_TIMEOUT": "20s"]) { stack in
            let store = try await readyStore(stack)
            // As a worker that died right after deciding would leave it: the reason recorded, nothing else done.
            let job = try await requestUpdate(stack, store: store.id, to: StoreSpec(plan: "large", appVersion: "6.8.4-php8.3-apache"),
                                              rollbackReason: "release failed: helm upgrade failed: the worker's test said so")
            let ended = try await finished(stack, job)
            #expect(ended.status == .failed)
            for step in ["guardrails", "release", "readiness"] {
                #expect(ended.steps.first { $0.name == step }?.message?.hasPrefix("skipped: the update failed for good") == true, "\(step)")
            }
            #expect(try await quotaCPU(stack, store.name) == "4", "the large plan was never applied")
            #expect(try await webImage(stack, store.name) == "wordpress:6.8.3-php8.3-apache")
            #expect(try await storeRow(stack, store.id).status == "ready")
            #expect((ended.error ?? "").contains("release failed: helm upgrade failed: the worker's test said so"), "\(ended.error ?? "")")
        }
    }

    @Test("an update to a chart version the worker does not have is rolled back at once, naming the file to add")
    func missingChartVersion() async throws {
        try await withStack { stack in
            let store = try await readyStore(stack)
            let job = try await requestUpdate(stack, store: store.id, to: StoreSpec(plan: "small", chartVersion: "7.0.0"))
            let ended = try await finished(stack, job)
            #expect(ended.status == .failed)
            #expect((ended.error ?? "").contains("chart woocommerce version 7.0.0 is not on this worker"), "\(ended.error ?? "")")
            #expect((ended.error ?? "").contains("woocommerce-7.0.0.tgz"))
            #expect(try await storeRow(stack, store.id).status == "ready")
        }
    }

    @Test("suspend scales every workload to zero and keeps the volumes; resume brings the store back until it sells",
          arguments: ["woocommerce", "medusa"])
    func suspendAndResume(_ engine: String) async throws {
        try await withStack { stack in
            let store = try await readyStore(stack, engine: engine)
            let namespace = "store-\(store.name)"
            let claims = try await stack.kube.get("/api/v1/namespaces/\(namespace)/persistentvolumeclaims")["items"]?.arrayValue?.count ?? 0
            #expect(engine == "medusa" || claims > 0, "WooCommerce's wp-content and database claims")
            try await stack.postgres.query("UPDATE stores SET status = 'suspending', suspended_by = 'tenant' WHERE id = \(store.id)")
            let suspend = try await finished(stack, try await stack.queue.enqueue(
                NewJob(kind: StoreJobKinds.suspendKind, steps: StoreJobKinds.suspendSteps, storeID: store.id, tenantID: store.tenant)))
            #expect(suspend.status == .succeeded, "\(suspend.error ?? "") \(suspend.steps.map { "\($0.name): \($0.message ?? "")" })")
            #expect(suspend.steps.first { $0.name == "stopped" }?.message == "every workload at zero; no pod left")
            var workloads: [JSON] = []
            for plural in ["deployments", "statefulsets"] {
                workloads += try await stack.kube.get("/apis/apps/v1/namespaces/\(namespace)/\(plural)")["items"]?.arrayValue ?? []
            }
            #expect(!workloads.isEmpty && workloads.allSatisfy { $0.at("spec", "replicas")?.int == 0 }, "every workload at zero")
            let pods = try await stack.kube.get("/api/v1/namespaces/\(namespace)/pods")["items"]?.arrayValue ?? []
            let running = pods.filter { !["Succeeded", "Failed"].contains($0.at("status", "phase")?.string ?? "") }
            #expect(running.count == 0, "no pod runs")
            let kept = try await stack.kube.get("/api/v1/namespaces/\(namespace)/persistentvolumeclaims")["items"]?.arrayValue ?? []
            #expect(kept.count == claims, "the data stays")
            #expect(try await storeRow(stack, store.id).status == "suspended")

            try await stack.postgres.query("UPDATE stores SET status = 'resuming' WHERE id = \(store.id)")
            let resume = try await finished(stack, try await stack.queue.enqueue(
                NewJob(kind: StoreJobKinds.resumeKind, steps: StoreJobKinds.resumeSteps, storeID: store.id, tenantID: store.tenant)))
            #expect(resume.status == .succeeded, "\(resume.error ?? "") \(resume.steps.map { "\($0.name): \($0.message ?? "")" })")
            #expect(resume.steps.first { $0.name == "readiness" }?.message?.contains("the storefront lists") == true, "it sells again")
            let row = try #require(try await stack.postgres.query("SELECT status, suspended_by FROM stores WHERE id = \(store.id)").first)
            #expect(try row.decode("status", as: String.self) == "ready")
            #expect(try row.decode("suspended_by", as: String?.self) == nil)
            let web = try await stack.kube.get("/apis/apps/v1/namespaces/\(namespace)/deployments/\(store.name)-\(engine == "medusa" ? "backend" : "web")")
            #expect(web.at("spec", "replicas")?.int == 1)
        }
    }
}

/// Fleet rollouts against kube-sim: waves of ordinary update jobs, a canary that halts the rollout
/// when its new version does not become ready, and the stores after it untouched.
extension StorePipelineTests {
    /// What POST /api/rollouts writes: the rollout, its stores in waves, and its job.
    func startRollout(_ stack: Stack, stores: [UUID], target: RolloutTarget, strategy: RolloutStrategy) async throws -> (rollout: UUID, job: UUID) {
        let id = UUID()
        let job = NewJob(kind: StoreJobKinds.rolloutKind, steps: StoreJobKinds.rolloutSteps, payload: #"{"rollout":"\#(id.uuidString.lowercased())"}"#)
        let encoder = JSONEncoder()
        try await stack.postgres.query("""
            INSERT INTO rollouts (id, status, target, selector, strategy, job_id)
            VALUES (\(id), 'running', \(String(decoding: try encoder.encode(target), as: UTF8.self))::jsonb, '{}'::jsonb,
                    \(String(decoding: try encoder.encode(strategy), as: UTF8.self))::jsonb, \(job.id))
            """)
        for (position, (store, wave)) in zip(stores, strategy.waves(count: stores.count)).enumerated() {
            try await stack.postgres.query("""
                INSERT INTO rollout_stores (rollout_id, store_id, wave, position, status) VALUES (\(id), \(store), \(wave), \(position), 'pending')
                """)
        }
        return (id, try await stack.queue.enqueue(job))
    }

    func rolloutStores(_ stack: Stack, _ rollout: UUID) async throws -> [(store: UUID, wave: Int, status: String)] {
        try await stack.postgres.query("SELECT store_id, wave, status FROM rollout_stores WHERE rollout_id = \(rollout) ORDER BY wave, position").rows.map {
            (try $0.decode("store_id"), try $0.decode("wave"), try $0.decode("status"))
        }
    }

    @Test("a rollout updates every store in waves, canary first, and completes")
    func rolloutCompletes() async throws {
        try await withStack { stack in
            var stores: [UUID] = []
            for _ in 0..<4 { stores.append(try await readyStore(stack).id) }
            let (rollout, job) = try await startRollout(stack, stores: stores, target: RolloutTarget(appVersion: "6.8.4-php8.3-apache"),
                                                        strategy: RolloutStrategy(canary: 1, waveSize: 2, wavePercent: nil, maxParallel: 2))
            let ended = try await finished(stack, job, within: 120)
            #expect(ended.status == .succeeded, "\(ended.error ?? "") \(ended.steps.map { "\($0.name): \($0.message ?? "")" })")
            let rows = try await rolloutStores(stack, rollout)
            #expect(rows.map(\.wave) == [0, 1, 1, 2])
            #expect(rows.allSatisfy { $0.status == "updated" }, "\(rows)")
            #expect(try await stack.postgres.query("SELECT status FROM rollouts WHERE id = \(rollout)").first?.decode("status", as: String.self) == "completed")
            for store in stores {
                let row = try await storeRow(stack, store)
                #expect(row.status == "ready" && row.spec.appVersion == "6.8.4-php8.3-apache" && row.revision == 2)
            }
            // Each wave started only once the one before had ended: the canary's update finished
            // before any other store's update job was created.
            let times = try await stack.postgres.query("""
                SELECT j.created_at, j.finished_at, r.wave FROM rollout_stores r JOIN jobs j ON j.id = r.job_id WHERE r.rollout_id = \(rollout) ORDER BY r.wave
                """).rows.map { (created: try $0.decode("created_at", as: Date.self), finished: try $0.decode("finished_at", as: Date.self), wave: try $0.decode("wave", as: Int.self)) }
            for later in times where later.wave > 0 {
                for earlier in times where earlier.wave < later.wave {
                    #expect(earlier.finished <= later.created, "wave \(later.wave) started before wave \(earlier.wave) had ended")
                }
            }
        }
    }

    @Test("a rollout to a version that never becomes ready halts at the canary: the canary is back on its old version and ready, no other store was touched")
    func rolloutHaltsAtTheCanary() async throws {
        try await withStack(settings: ["UPDATE_READINESS_TIMEOUT": "5s"]) { stack in
            var stores: [UUID] = []
            for _ in 0..<3 { stores.append(try await readyStore(stack).id) }
            var faults = FaultSettings()
            faults.neverReady = ["9.9.9-rollout-broken"]
            stack.sim.simulator.setFaults(faults)
            let (rollout, job) = try await startRollout(stack, stores: stores, target: RolloutTarget(appVersion: "9.9.9-rollout-broken"),
                                                        strategy: RolloutStrategy(canary: 1, wavePercent: 50, maxParallel: 5))
            let ended = try await finished(stack, job, within: 120)
            #expect(ended.status == .failed)
            #expect((ended.error ?? "").contains("halted after the canary wave: 1 of 1 stores did not take the new version"), "\(ended.error ?? "")")
            let row = try #require(try await stack.postgres.query("SELECT status, reason FROM rollouts WHERE id = \(rollout)").first)
            #expect(try row.decode("status", as: String.self) == "halted")
            let rows = try await rolloutStores(stack, rollout)
            #expect(rows.map(\.status) == ["rolled-back", "pending", "pending"], "\(rows)")
            let canary = try await storeRow(stack, stores[0])
            #expect(canary.status == "ready" && canary.revision == 1 && canary.spec.appVersion == nil, "the canary runs its old revision")
            for store in stores.dropFirst() {
                let untouched = try await stack.postgres.query("SELECT count(*) AS n FROM store_revisions WHERE store_id = \(store)").first!.decode("n", as: Int.self)
                #expect(untouched == 1, "no revision was asked of a store after the canary")
            }
        }
    }
}

extension StorePipelineTests {
    @Test("an operator's halt stops a rollout between stores; resumed, it goes on where it stopped and completes")
    func rolloutHaltedByAnOperatorResumes() async throws {
        try await withStack { stack in
            var stores: [UUID] = []
            for _ in 0..<3 { stores.append(try await readyStore(stack).id) }
            let (rollout, job) = try await startRollout(stack, stores: stores, target: RolloutTarget(appVersion: "6.8.4-php8.3-apache"),
                                                        strategy: RolloutStrategy(canary: 1, waveSize: 1, wavePercent: nil, maxParallel: 1))
            // Halted once the canary is updated, before the last store has started.
            try await eventually(within: 60) { () throws -> Void in
                let updated = try await stack.postgres.query("SELECT count(*) AS n FROM rollout_stores WHERE rollout_id = \(rollout) AND status = 'updated'").first!.decode("n", as: Int.self)
                guard updated >= 1 else { throw CancellationError() }
            }
            try await stack.postgres.query("UPDATE rollouts SET halt_requested = true WHERE id = \(rollout)")
            let halted = try await finished(stack, job)
            #expect(halted.status == .failed)
            #expect((halted.error ?? "").contains("halted by an operator"), "\(halted.error ?? "")")
            #expect(try await stack.postgres.query("SELECT status FROM rollouts WHERE id = \(rollout)").first?.decode("status", as: String.self) == "halted")
            let before = try await rolloutStores(stack, rollout)
            #expect(before.last?.status == "pending", "the last store did not start: \(before)")

            // What POST /api/rollouts/:id/resume does.
            try await stack.postgres.transaction { connection in
                _ = try await stack.queue.store.requeueFailed(job, on: connection)
                try await connection.query("UPDATE rollouts SET status = 'running', halt_requested = false, reason = NULL WHERE id = \(rollout)")
            }
            await stack.queue.dispatch([job])
            let resumed = try await finished(stack, job)
            #expect(resumed.status == .succeeded, "\(resumed.error ?? "")")
            #expect(try await rolloutStores(stack, rollout).allSatisfy { $0.status == "updated" })
        }
    }
}

extension StorePipelineTests {
    @Test("an application version that starts and crashes (CrashLoopBackOff) is rolled back too, the reason naming the crash")
    func crashingVersionIsRolledBack() async throws {
        try await withStack(settings: ["UPDATE_READINESS_TIMEOUT": "5s"]) { stack in
            let store = try await readyStore(stack, engine: "medusa")
            var faults = FaultSettings()
            faults.crashLoop = ["3.0.0-crashes"]
            stack.sim.simulator.setFaults(faults)
            let job = try await requestUpdate(stack, store: store.id, to: StoreSpec(plan: "small", appVersion: "3.0.0-crashes"))
            let ended = try await finished(stack, job)
            #expect(ended.status == .failed)
            #expect((ended.error ?? "").contains("CrashLoopBackOff"), "\(ended.error ?? "")")
            #expect((ended.error ?? "").contains("was rolled back"))
            let row = try await storeRow(stack, store.id)
            #expect(row.status == "ready" && row.revision == 1 && row.spec.appVersion == nil)
            let backend = try await stack.kube.get("/apis/apps/v1/namespaces/store-\(store.name)/deployments/\(store.name)-backend")
            #expect(backend.at("spec", "template", "spec", "containers")?.arrayValue?.first?["image"]?.string?.hasSuffix(":0.1.0") == true, "the old image again")
        }
    }
}

extension StorePipelineTests {
    @Test("a Medusa store moved to the large plan runs two storefront pods and its larger backend, within the large quota")
    func largePlanScalesTheStorefront() async throws {
        try await withStack { stack in
            let store = try await readyStore(stack, engine: "medusa")
            let job = try await requestUpdate(stack, store: store.id, to: StoreSpec(plan: "large"))
            let ended = try await finished(stack, job)
            #expect(ended.status == .succeeded, "\(ended.error ?? "") \(ended.steps.map { "\($0.name): \($0.message ?? "")" })")
            let namespace = "store-\(store.name)"
            let storefront = try await stack.kube.get("/apis/apps/v1/namespaces/\(namespace)/deployments/\(store.name)-storefront")
            #expect(storefront.at("spec", "replicas")?.int == 2 && storefront.at("status", "readyReplicas")?.int == 2)
            let backend = try await stack.kube.get("/apis/apps/v1/namespaces/\(namespace)/deployments/\(store.name)-backend")
            #expect(backend.at("spec", "template", "spec", "containers")?.arrayValue?.first?.at("resources", "limits", "cpu")?.string == "4")
            let quota = try await stack.kube.get("/api/v1/namespaces/\(namespace)/resourcequotas/storefleet-quota")
            #expect(quota.at("spec", "hard", "limits.cpu")?.string == "20", "four times small's 5")
        }
    }
}

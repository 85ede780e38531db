import KubeClient
import ClusterSimulator
import Foundation
@testable import Provisioning
import ServiceRuntime
import Testing
import TestSupport

/// The helm-sim stand-in against the simulator, with the real store charts rendered by the real helm.
@Suite("helm stand-in")
struct HelmStandInTests {
    static let chart = TestEnvironment.repositoryRoot.appendingPathComponent("charts/woocommerce").path

    struct Helm {
        let sim: SimulatorHarness
        let journal: String
        let faults: String

        func run(_ arguments: [String], kubeconfig: String = "kubeconfig", timeout: Double = 60) async throws -> ChildProcess.Outcome {
            var environment = ProcessInfo.processInfo.environment
            let tools = TestEnvironment.repositoryRoot.appendingPathComponent(".tools/bin").path
            environment["PATH"] = "\(tools):\(environment["PATH"] ?? "/usr/bin:/bin")"
            environment["KUBECONFIG"] = "\(sim.directory.path)/\(kubeconfig)"
            environment["HOME"] = sim.directory.path
            environment["HELM_SIM_JOURNAL"] = journal
            environment["HELM_SIM_FAULTS"] = faults
            return try await ChildProcess.run(
                TestEnvironment.productsDirectory.appendingPathComponent("helm-sim").path, arguments,
                environment: environment, timeout: timeout
            )
        }

        func install(_ name: String, namespace: String, host: String? = nil, kubeconfig: String = "kubeconfig", timeout: Double = 60) async throws -> ChildProcess.Outcome {
            let values = sim.directory.appendingPathComponent("\(name)-values.json")
            var store: [String: String] = ["name": name, "id": UUID().uuidString.lowercased()]
            if let host { store["host"] = host }
            try JSONSerialization.data(withJSONObject: ["store": store]).write(to: values)
            return try await run(["upgrade", "--install", name, HelmStandInTests.chart, "-n", namespace, "-f", values.path, "--timeout", "5m", "--wait"],
                                 kubeconfig: kubeconfig, timeout: timeout)
        }

        func setFaults(_ faults: [String: [String]]) throws {
            try JSONSerialization.data(withJSONObject: faults).write(to: URL(fileURLWithPath: self.faults))
        }

        func status(_ name: String, namespace: String) async throws -> String? {
            let outcome = try await run(["status", name, "-n", namespace, "-o", "json"])
            guard outcome.succeeded else { return nil }
            return try JSON(parsing: Data(outcome.stdout)).at("info", "status")?.string
        }
    }

    func withHelm(_ body: (Helm, SimulatorHarness) async throws -> Void) async throws {
        try await SimulatorHarness.with { sim in
            let helm = Helm(sim: sim, journal: sim.directory.appendingPathComponent("journal").path,
                            faults: sim.directory.appendingPathComponent("faults.json").path)
            for name in ["shop", "other"] {
                _ = try await sim.request("POST", "/api/v1/namespaces", body: ["metadata": ["name": .string(name)]])
            }
            try await body(helm, sim)
        }
    }

    @Test("upgrade --install renders the real chart and creates its objects; re-running makes a new revision")
    func installAndUpgrade() async throws {
        try await withHelm { helm, sim in
            let first = try await helm.install("shop1", namespace: "shop", host: "shop1.127.0.0.1.nip.io")
            #expect(first.succeeded, "\(first.standardError)")
            #expect(first.standardOutput.contains("STATUS: deployed"))
            for path in ["/apis/apps/v1/namespaces/shop/deployments/shop1-web", "/apis/apps/v1/namespaces/shop/statefulsets/shop1-db",
                         "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/shop1", "/apis/batch/v1/namespaces/shop/jobs/shop1-setup-r1"] {
                #expect(try await sim.request("GET", path).status == 200, "\(path) exists")
            }
            let second = try await helm.install("shop1", namespace: "shop", host: "shop1.127.0.0.1.nip.io")
            #expect(second.standardOutput.contains("has been upgraded"))
            let history = try await helm.run(["history", "shop1", "-n", "shop", "-o", "json"])
            let statuses = try JSON(parsing: Data(history.stdout)).arrayValue?.compactMap { $0["status"]?.string }
            #expect(statuses == ["superseded", "deployed"])
            let secrets = try await sim.request("GET", "/api/v1/namespaces/shop/secrets?labelSelector=owner%3Dhelm,name%3Dshop1")
            #expect(secrets.body["items"]?.arrayValue?.count == 2)
        }
    }

    @Test("chart and values errors surface exactly as helm reports them")
    func renderErrors() async throws {
        try await withHelm { helm, _ in
            let outcome = try await helm.install("shop2", namespace: "shop", host: nil)
            #expect(!outcome.succeeded)
            #expect(outcome.standardError.contains("store.host is required"))
            #expect(try await helm.status("shop2", namespace: "shop") == nil, "nothing was recorded")
        }
    }

    @Test("a release left pending-install blocks the next operation until it is uninstalled, as with helm")
    func stuckRelease() async throws {
        try await withHelm { helm, _ in
            try helm.setFaults(["stuck": ["shop3"]])
            let stuck = try await helm.install("shop3", namespace: "shop", host: "shop3.example")
            #expect(!stuck.succeeded)
            #expect(try await helm.status("shop3", namespace: "shop") == "pending-install")
            try helm.setFaults([:])
            let blocked = try await helm.install("shop3", namespace: "shop", host: "shop3.example")
            #expect(blocked.standardError.contains("another operation (install/upgrade/rollback) is in progress"))
            #expect(try await helm.run(["uninstall", "shop3", "-n", "shop"]).succeeded)
            let retried = try await helm.install("shop3", namespace: "shop", host: "shop3.example")
            #expect(retried.succeeded, "\(retried.standardError)")
        }
    }

    @Test("a hanging helm killed by its caller's timeout leaves the release pending, and an injected failure marks it failed")
    func hangAndFail() async throws {
        try await withHelm { helm, _ in
            try helm.setFaults(["hang": ["shop4"], "fail": ["shop5"]])
            // Long enough for helm-sim to render and record the pending release even on a loaded machine.
            let hung = try await helm.install("shop4", namespace: "shop", host: "shop4.example", timeout: 15)
            #expect(hung.timedOut)
            #expect(try await helm.status("shop4", namespace: "shop") == "pending-install")
            let failed = try await helm.install("shop5", namespace: "shop", host: "shop5.example")
            #expect(failed.standardError.contains("INSTALL FAILED: helm-sim injected failure"))
            #expect(try await helm.status("shop5", namespace: "shop") == "failed")
        }
    }

    @Test("objects are applied as helm 4 applies them: server-side, field manager helm, with helm's ownership metadata", arguments: ["kubeconfig", "kubeconfig-ca-file", "kubeconfig-client-cert"])
    func ownershipAndKubeconfigs(_ kubeconfig: String) async throws {
        try await withHelm { helm, sim in
            let installed = try await helm.install("shop7", namespace: "shop", host: "shop7.example", kubeconfig: kubeconfig)
            #expect(installed.succeeded, "\(installed.standardError)")
            let web = try await sim.request("GET", "/apis/apps/v1/namespaces/shop/deployments/shop7-web").body
            #expect(web.at("metadata", "labels", "app.kubernetes.io/managed-by")?.string == "Helm")
            #expect(web.at("metadata", "annotations", "meta.helm.sh/release-name")?.string == "shop7")
            #expect(web.at("metadata", "annotations", "meta.helm.sh/release-namespace")?.string == "shop")
            let requests = try await sim.request("GET", "/sim/requests").body.arrayValue ?? []
            let helmCalls = requests.filter { ($0["userAgent"]?.string ?? "").hasPrefix("helm/") }
            #expect(!helmCalls.isEmpty, "helm-sim identifies itself as helm")
            let patches = helmCalls.filter { $0["method"]?.string == "PATCH" }
            #expect(patches.allSatisfy { ($0["query"]?.string ?? "").contains("fieldManager=helm") && $0["contentType"]?.string == "application/apply-patch+yaml" })
            let writes = patches.compactMap { $0["path"]?.string }
            // helm's install order: Services before the workloads that use them, Jobs after Deployments.
            let service = writes.firstIndex { $0.contains("/services/shop7-web") }
            let deployment = writes.firstIndex { $0.contains("/deployments/shop7-web") }
            let job = writes.firstIndex { $0.contains("/jobs/shop7-setup") }
            #expect(service != nil && deployment != nil && job != nil)
            if let service, let deployment, let job { #expect(service < deployment && deployment < job) }
        }
    }

    @Test("an API error during the install fails the release with the server's message, and the next upgrade succeeds")
    func apiErrorFailsTheRelease() async throws {
        try await withHelm { helm, sim in
            var faults = FaultSettings()
            faults.errors = [.init(verb: "apply", resource: "deployments", rate: 1, status: 503, userAgent: "helm/")]
            sim.simulator.setFaults(faults)
            let failed = try await helm.install("shop8", namespace: "shop", host: "shop8.example")
            #expect(!failed.succeeded)
            #expect(failed.standardError.contains("INSTALL FAILED"), "\(failed.standardError)")
            #expect(failed.standardError.contains("injected fault"), "the API's own message: \(failed.standardError)")
            #expect(try await helm.status("shop8", namespace: "shop") == "failed")
            sim.simulator.setFaults(FaultSettings())
            let retried = try await helm.install("shop8", namespace: "shop", host: "shop8.example")
            #expect(retried.succeeded, "\(retried.standardError)")
            #expect(try await helm.status("shop8", namespace: "shop") == "deployed")
        }
    }

    @Test("uninstall removes the release's objects and records; a missing release says not found")
    func uninstall() async throws {
        try await withHelm { helm, sim in
            #expect(try await helm.install("shop6", namespace: "other", host: "shop6.example").succeeded)
            let removed = try await helm.run(["uninstall", "shop6", "-n", "other"])
            #expect(removed.standardOutput.contains("release \"shop6\" uninstalled"))
            #expect(try await sim.request("GET", "/apis/apps/v1/namespaces/other/deployments/shop6-web").status == 404)
            let secrets = try await sim.request("GET", "/api/v1/namespaces/other/secrets?labelSelector=owner%3Dhelm")
            #expect(secrets.body["items"]?.arrayValue?.isEmpty == true)
            let again = try await helm.run(["uninstall", "shop6", "-n", "other"])
            #expect(!again.succeeded)
            #expect(again.standardError.contains("release: not found"))
            let journal = try String(contentsOfFile: helm.journal, encoding: .utf8).split(separator: "\n")
            #expect(journal.count == 4, "start and end of the install and of the uninstall")
        }
    }

    @Test("the worker reads a release's state from helm's storage, and it agrees with helm status")
    func storageAgreesWithStatus() async throws {
        try await withHelm { helm, sim in
            let storage = HelmStorage(kube: KubeClient(configuration: try KubeConfiguration.kubeconfig(at: "\(sim.directory.path)/kubeconfig")))
            #expect(try await helm.install("shop9", namespace: "shop", host: "shop9.example").succeeded)
            #expect(try await helm.install("shop9", namespace: "shop", host: "shop9.example").succeeded)
            try helm.setFaults(["stuck": ["shop10"]])
            _ = try await helm.install("shop10", namespace: "shop", host: "shop10.example")
            try helm.setFaults([:])
            // Another release of the same name elsewhere and a release whose name shop9 prefixes must not count.
            #expect(try await helm.install("shop9", namespace: "other", host: "shop9.example").succeeded)
            #expect(try await helm.install("shop99", namespace: "shop", host: "shop99.example").succeeded)

            #expect(try await storage.latest(release: "shop9", namespace: "shop").map { [$0.status, "\($0.revision)"] } == ["deployed", "2"])
            #expect(try await helm.status("shop9", namespace: "shop") == "deployed")
            let pending = try await storage.latest(release: "shop10", namespace: "shop")
            #expect(pending.map { [$0.status, "\($0.revision)"] } == ["pending-install", "1"])
            // Its age tells whether an earlier attempt's helm may still be at work.
            #expect(pending?.created.map { abs($0.timeIntervalSinceNow) < 120 } == true)
            #expect(try await helm.status("shop10", namespace: "shop") == "pending-install")
            #expect(try await storage.latest(release: "shop11", namespace: "shop") == nil)
            #expect(try await helm.status("shop11", namespace: "shop") == nil)
        }
    }

    @Test("an uninstall that cannot delete some objects still purges the release, as helm does, and the next install adopts what is left")
    func partialUninstall() async throws {
        try await withHelm { helm, sim in
            #expect(try await helm.install("shop12", namespace: "shop", host: "shop12.example").succeeded)
            var faults = FaultSettings()
            faults.errors = [.init(verb: "delete", resource: "services", rate: 1, status: 503, userAgent: "helm/")]
            sim.simulator.setFaults(faults)
            let partial = try await helm.run(["uninstall", "shop12", "-n", "shop"])
            #expect(!partial.succeeded)
            #expect(partial.standardError.contains("uninstallation completed with 2 error(s)"), "both Services: \(partial.standardError)")
            #expect(try await helm.status("shop12", namespace: "shop") == nil, "the records are purged all the same")
            #expect(try await sim.request("GET", "/api/v1/namespaces/shop/services/shop12-web").status == 200, "the Service is left")
            sim.simulator.setFaults(FaultSettings())
            let again = try await helm.install("shop12", namespace: "shop", host: "shop12.example")
            #expect(again.succeeded, "\(again.standardError)")
            #expect(try await helm.status("shop12", namespace: "shop") == "deployed")
        }
    }
}

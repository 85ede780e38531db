import Foundation
import Jobs
import KubeClient

extension Provisioner {
    /// `helm upgrade --install` of charts/<engine> with generated values, under a time limit. A release
    /// left pending by an interrupted run is remediated first, as Flux's helm-controller does: a pending
    /// first install is uninstalled, a pending upgrade rolled back; a failed first install is uninstalled
    /// before trying again.
    func releaseStep() -> StepDefinition {
        StepDefinition("release", timeout: settings.releaseTimeout + 120, retry: RetryPolicy(maxAttempts: 5, initialDelay: 5, maxDelay: 60)) { context in
            // One budget for the whole attempt, a little inside the step's own limit: the step's timeout
            // must never be what stops helm, since a helm killed mid-install leaves the release pending.
            let budgetEnds = ContinuousClock.now + .seconds(settings.releaseTimeout + 110)
            func remaining() -> Double {
                let left = budgetEnds - ContinuousClock.now
                return Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
            }
            let store = try await self.store(context)
            if let current = try await HelmStorage(kube: kube).latest(release: store.release, namespace: store.namespace) {
                switch current.status {
                case "pending-install", "pending-upgrade", "pending-rollback":
                    await context.report("remediating release left \(current.status) by an interrupted run")
                    let remedy = current.revision <= 1 || current.status == "pending-install"
                        ? ["uninstall", store.release, "-n", store.namespace]
                        : ["rollback", store.release, "-n", store.namespace]
                    let outcome = try await helm.run(remedy, timeout: min(120, remaining()))
                    guard outcome.succeeded || (remedy[0] == "uninstall" && HelmRunner.releaseGone(outcome)) else {
                        throw StepFailure.retryable("could not remediate release \(current.status): \(HelmRunner.message(outcome))")
                    }
                case "failed" where current.revision <= 1:
                    await context.report("uninstalling the failed first install before installing again")
                    let outcome = try await helm.run(["uninstall", store.release, "-n", store.namespace], timeout: min(120, remaining()))
                    guard outcome.succeeded || HelmRunner.releaseGone(outcome) else {
                        throw StepFailure.retryable("could not uninstall the failed first install: \(HelmRunner.message(outcome))")
                    }
                default:
                    break
                }
            }
            try context.checkpoint()
            let values = try releaseValues(store)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("storefleet-\(store.id)-\(UUID().uuidString).json")
            try values.serialized().write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let chart = "\(settings.chartsDirectory)/\(store.engine)"
            let limit = min(settings.releaseTimeout, remaining())
            guard limit >= min(30, settings.releaseTimeout) else {
                throw StepFailure.retryable("remediation used this attempt's time; installing in the next attempt")
            }
            await context.report("helm upgrade --install \(store.release) \(chart)")
            let outcome = try await helm.run([
                "upgrade", "--install", store.release, chart, "-n", store.namespace, "-f", file.path,
                "--timeout", "\(Int(limit))s",
            ], timeout: limit)
            guard outcome.succeeded else {
                let message = HelmRunner.message(outcome)
                // Chart and values errors do not fix themselves; everything else may be passing.
                if message.contains("is required") || message.contains("template:") || message.contains("parse error") {
                    throw StepFailure.permanent("helm could not render \(chart): \(message)")
                }
                throw StepFailure.retryable("helm upgrade failed: \(message)")
            }
        }
    }

    /// The values the store charts take from the worker (charts/README.md, "Worker contract").
    func releaseValues(_ store: StoreRecord) throws -> JSON {
        var tls: JSON = ["enabled": .bool(settings.tls)]
        if settings.tls {
            tls["secretName"] = .string("\(store.release)-tls")
            if !settings.clusterIssuer.isEmpty { tls["clusterIssuer"] = .string(settings.clusterIssuer) }
        }
        return [
            "store": [
                "name": .string(store.name), "id": .string(store.id.uuidString.lowercased()),
                "host": .string(settings.host(for: store.name)), "existingSecret": "store-credentials",
            ],
            "ingress": ["className": .string(settings.ingressClass), "tls": tls],
            "global": ["storageClass": .string(settings.storageClass)],
        ]
    }
}

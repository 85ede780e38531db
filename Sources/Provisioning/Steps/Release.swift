import Foundation
import Jobs
import KubeClient
import ServiceRuntime

extension Provisioner {
    /// `helm upgrade --install` of charts/<engine> with generated values, under a time limit. A release
    /// left pending by an interrupted run is remediated first, as Flux's helm-controller does: a pending
    /// first install is uninstalled, a pending upgrade rolled back; a failed first install is uninstalled
    /// before trying again.
    func releaseStep() -> StepDefinition {
        StepDefinition("release", timeout: settings.releaseTimeout + 120, retry: RetryPolicy(maxAttempts: 5, initialDelay: 5, maxDelay: 60)) { context in
            // One budget for the whole attempt, a little inside the step's own limit: the step's timeout
            // must never be what stops helm, since a helm killed mid-install leaves the release pending.
            try await installRelease(try await self.store(context), context: context, budget: settings.releaseTimeout + 110)
        }
    }

    /// Remedies, the wait for leftovers, then `helm upgrade --install`, all within `budget` seconds.
    /// The release step's body; readiness calls it too when a retry finds the release broken.
    func installRelease(_ store: StoreRecord, context: StepContext, budget: Double) async throws {
        do {
            let budgetEnds = ContinuousClock.now + .seconds(budget)
            func remaining() -> Double { (budgetEnds - ContinuousClock.now).inSeconds }
            if let current = try await HelmStorage(kube: kube).latest(release: store.release, namespace: store.namespace),
               let verb = Self.remedy(for: current) {
                if let wait = Self.pendingWait(current, releaseTimeout: settings.releaseTimeout) {
                    throw StepFailure.retryable(
                        "the release is \(current.status) since \(formatSeconds(max(0, Date().timeIntervalSince(current.created ?? Date())))) ago: an earlier attempt's helm may still be running; remediating once it is \(formatSeconds(settings.releaseTimeout + Self.pendingGrace)) old, in \(formatSeconds(wait))",
                        after: wait)
                }
                // Decided on what was read just now: a worker frozen since must not act on it.
                try context.checkpoint()
                await context.report(verb == "uninstall" && current.status == "failed"
                    ? "uninstalling the failed first install before installing again"
                    : "remediating release left \(current.status) by an interrupted run")
                let outcome = try await helm.run([verb, store.release, "-n", store.namespace], timeout: min(120, remaining()))
                guard outcome.succeeded || (verb == "uninstall" && HelmRunner.releaseGone(outcome)) else {
                    throw StepFailure.retryable("could not \(verb) the release left \(current.status): \(HelmRunner.message(outcome))", cause: "helm")
                }
            }
            // Before every install, not only after a remedy: an earlier attempt may have uninstalled and
            // died, and a claim that is still terminating would be updated instead of created.
            try await waitForLeftovers(store, context: context, within: min(120, remaining() - 60))
            try context.checkpoint()
            let chart = try chartPath(store)
            // The plan's values first, the worker's last: helm merges later files over earlier ones.
            let planValues = try settings.plan(store.spec.plan, engine: store.engine).valuesJSON
            let planFile = FileManager.default.temporaryDirectory.appendingPathComponent("storefleet-\(store.id)-plan-\(UUID().uuidString).json")
            try Data(planValues.utf8).write(to: planFile)
            defer { try? FileManager.default.removeItem(at: planFile) }
            let values = try releaseValues(store)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("storefleet-\(store.id)-\(UUID().uuidString).json")
            try values.serialized().write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let limit = min(settings.releaseTimeout, remaining())
            guard limit >= min(30, settings.releaseTimeout) else {
                throw StepFailure.retryable("remediation used this attempt's time; installing in the next attempt")
            }
            try context.checkpoint()
            await context.report("helm upgrade --install \(store.release) \(chart)")
            let outcome = try await helm.run([
                "upgrade", "--install", store.release, chart, "-n", store.namespace, "-f", planFile.path, "-f", file.path,
                "--timeout", "\(Int(limit))s",
            ], timeout: limit)
            guard outcome.succeeded else {
                throw Self.releaseFailure(HelmRunner.message(outcome), chart: chart)
            }
        }
    }

    /// Why a release that once succeeded no longer stands, or nil: its latest revision is not
    /// `deployed`, or a claim its workloads mount is missing or being deleted (what an install over a
    /// dying claim leaves: pods Pending for good, which waiting longer cannot change).
    func releaseNeedsRepair(_ store: StoreRecord) async throws -> String? {
        guard let current = try await HelmStorage(kube: kube).latest(release: store.release, namespace: store.namespace) else {
            return "the release is missing"
        }
        guard current.status == "deployed" else { return "the release is \(current.status)" }
        // The setup Job of the deployed revision is gone (deleted after it failed, or by hand): only a
        // new release makes it again.
        let setup = [("labelSelector", "app.kubernetes.io/instance=\(store.release),app.kubernetes.io/component=setup")]
        let jobs = try await kube.get(Paths.group("batch/v1", store.namespace, "jobs"), query: setup)["items"]?.arrayValue ?? []
        if jobs.allSatisfy({ $0.at("metadata", "deletionTimestamp") != nil }) { return "the setup job is missing" }
        let selector = [("labelSelector", "app.kubernetes.io/instance=\(store.release)")]
        let claims = try await kube.get(Paths.core(store.namespace, "persistentvolumeclaims"))["items"]?.arrayValue ?? []
        let standing = Set(claims.filter { $0.at("metadata", "deletionTimestamp") == nil }.compactMap { $0.at("metadata", "name")?.string })
        for (group, plural) in [("apps/v1", "deployments"), ("apps/v1", "statefulsets")] {
            for workload in try await kube.get(Paths.group(group, store.namespace, plural), query: selector)["items"]?.arrayValue ?? [] {
                for volume in workload.at("spec", "template", "spec", "volumes")?.arrayValue ?? [] {
                    if let claim = volume.at("persistentVolumeClaim", "claimName")?.string, !standing.contains(claim) {
                        return "persistentvolumeclaim \(claim), which \(workload.at("metadata", "name")?.string ?? "a workload") mounts, is missing or being deleted"
                    }
                }
            }
        }
        return nil
    }

    /// Waits until nothing an uninstall removed is still going away in the store's namespace. A claim
    /// held by `kubernetes.io/pvc-protection` while its pods stop would be updated by the next install
    /// instead of created, then vanish under the new pods, which stay Pending for good; pods still
    /// stopping count against the quota and would refuse the new ones. helm's own wait on uninstall
    /// covers the objects it deleted, not the pods they leave behind, so the worker looks itself.
    func waitForLeftovers(_ store: StoreRecord, context: StepContext, within seconds: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(max(0, seconds))
        var reported = false
        while true {
            let left = try await terminating(in: store.namespace)
            if left.isEmpty { return }
            if ContinuousClock.now >= deadline {
                throw StepFailure.retryable("waiting for what the last uninstall removed to be gone before installing again: \(left.joined(separator: ", ")) still terminating", after: 10)
            }
            if !reported {
                await context.report("waiting for \(left.joined(separator: ", ")) to finish terminating before installing")
                reported = true
            }
            try context.checkpoint()
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// Claims and pods in the namespace that are being deleted, as `kind/name`.
    func terminating(in namespace: String) async throws -> [String] {
        var names: [String] = []
        for (resource, kind) in [("persistentvolumeclaims", "persistentvolumeclaim"), ("pods", "pod")] {
            let list = try await kube.get("/api/v1/namespaces/\(namespace)/\(resource)")
            for item in list["items"]?.arrayValue ?? [] where item.at("metadata", "deletionTimestamp") != nil {
                if let name = item.at("metadata", "name")?.string { names.append("\(kind)/\(name)") }
            }
        }
        return names.sorted()
    }

    /// Whether a failed `helm upgrade --install` can succeed by trying again, decided from helm's message
    /// (the API server's refusal as helm passes it on). What no retry can change ends the step at once,
    /// with the server's words; the rest (conflicts, 429 and 5xx, a quota filled by pods still going
    /// away, timeouts) is retried. docs/architecture.md has the table.
    static func releaseFailure(_ message: String, chart: String) -> StepFailure {
        if message.contains("is required") || message.contains("template:") || message.contains("parse error") {
            return .permanent("helm could not render \(chart): \(message)", cause: "helm-render")
        }
        if let reason = permanentRefusal(message) {
            return .permanent("the API server refused the release (\(reason)); retrying cannot change that: \(message)", cause: "helm-refused")
        }
        return .retryable("helm upgrade failed: \(message)", cause: "helm")
    }

    /// The kind of a refusal no retry can change, or nil.
    static func permanentRefusal(_ message: String) -> String? {
        let lower = message.lowercased()
        if lower.contains("violates podsecurity") { return "Pod Security admission" }
        // LimitRange: "... is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi",
        // "... is forbidden: [maximum cpu usage per Container is 500m, but limit is 1]".
        for bound in ["maximum", "minimum"] where lower.contains("is forbidden: \(bound)") || lower.contains("is forbidden: [\(bound)") {
            return "LimitRange"
        }
        if lower.contains("field is immutable") { return "an immutable field" }
        if lower.contains("strict decoding error") || lower.contains("unknown field") { return "schema validation" }
        if lower.contains(" is invalid: ") { return "validation" }
        if lower.contains("admission webhook") && lower.contains("denied the request") { return "an admission webhook" }
        if lower.contains("exceeded quota"), quotaCanNeverFit(message) { return "ResourceQuota: the request alone exceeds the quota" }
        return nil
    }

    /// A quota refusal ("exceeded quota: q, requested: requests.storage=20Gi, used: requests.storage=0,
    /// limited: requests.storage=10Gi") that would stand with nothing else in the namespace: some
    /// resource's request alone is over its limit. One filled by what is there (pods still terminating
    /// after a reinstall) may pass later.
    static func quotaCanNeverFit(_ message: String) -> Bool {
        func amounts(after label: String) -> [String: Double] {
            guard let start = message.range(of: "\(label): ") else { return [:] }
            var result: [String: Double] = [:]
            let rest = message[start.upperBound...]
            // Pairs "name=quantity" separated by commas, up to the next label.
            let end = rest.range(of: ", used: ")?.lowerBound ?? rest.range(of: ", limited: ")?.lowerBound ?? rest.endIndex
            for pair in rest[..<end].split(separator: ",") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let value = quantity(String(parts[1])) else { continue }
                result[String(parts[0])] = value
            }
            return result
        }
        let requested = amounts(after: "requested"), limited = amounts(after: "limited")
        return requested.contains { name, value in limited[name].map { value > $0 } ?? false }
    }

    /// A Kubernetes quantity ("500m", "2Gi", "1.5G", "3") as a number.
    static func quantity(_ text: String) -> Double? {
        let suffixes: [(String, Double)] = [
            ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776), ("Pi", 1_125_899_906_842_624),
            ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("m", 1e-3),
        ]
        let trimmed = text.trimmingCharacters(in: CharacterSet(charactersIn: " ,]\n"))
        for (suffix, factor) in suffixes where trimmed.hasSuffix(suffix) {
            return Double(trimmed.dropLast(suffix.count)).map { $0 * factor }
        }
        return Double(trimmed)
    }

    /// Beyond the release timeout every attempt gives helm, a pending revision can no longer be an earlier
    /// attempt's helm at work: each helm run has a watchdog that kills it at its budget plus the stop
    /// grace (3 s) plus `ChildProcess.watchdogSlack` (5 s), frozen worker or not. This much more covers
    /// those and clock skew between this worker and the API server.
    static let pendingGrace: Double = 30

    /// How long to wait before remediating a pending revision: nil when it is older than any helm of an
    /// earlier attempt could run. Flux's helm-controller remediates a pending release at once, because it
    /// alone runs helm for a release; here an earlier attempt's worker may be frozen (SIGSTOP, a paused
    /// VM) while its helm runs on, and uninstalling a release helm is installing corrupts both. A worker
    /// killed outright takes its helm with it (a parent-death signal), so only the wait is lost.
    static func pendingWait(_ current: HelmStorage.ReleaseStatus, releaseTimeout: Double, now: Date = Date()) -> Double? {
        guard current.status.hasPrefix("pending-"), let created = current.created else { return nil }
        let left = releaseTimeout + pendingGrace - now.timeIntervalSince(created)
        return left > 0 ? left : nil
    }

    /// What a release found in this state needs before the install, as Flux's helm-controller decides:
    /// a pending or failed first install is uninstalled, a pending upgrade or rollback rolled back.
    static func remedy(for current: HelmStorage.ReleaseStatus) -> String? {
        switch current.status {
        case "pending-install": "uninstall"
        case "pending-upgrade", "pending-rollback": current.revision <= 1 ? "uninstall" : "rollback"
        case "failed": current.revision <= 1 ? "uninstall" : nil
        default: nil
        }
    }

    /// The values the store charts take from the worker (charts/README.md, "Worker contract").
    func releaseValues(_ store: StoreRecord) throws -> JSON {
        var tls: JSON = ["enabled": .bool(settings.tls)]
        if settings.tls {
            tls["secretName"] = .string("\(store.release)-tls")
            if !settings.clusterIssuer.isEmpty { tls["clusterIssuer"] = .string(settings.clusterIssuer) }
        }
        var values: JSON = [
            "store": [
                "name": .string(store.name), "id": .string(store.id.uuidString.lowercased()),
                "host": .string(settings.host(for: store.name)), "existingSecret": "store-credentials",
            ],
            "ingress": ["className": .string(settings.ingressClass), "tls": tls],
            "global": ["storageClass": .string(settings.storageClass)],
            "suspended": .bool(store.suspended),
        ]
        if let version = store.spec.appVersion {
            // The application version is the tag of the images that run the store's code.
            let images = store.engine == "medusa" ? ["backend", "storefront"] : ["wordpress"]
            values["images"] = .object(Dictionary(uniqueKeysWithValues: images.map { ($0, ["tag": .string(version)]) }))
        }
        return values
    }

    /// The chart of the store's engine at the store's chart version: the worker's own chart directory
    /// (`CHARTS_DIR/<engine>`) when the version is nil or that chart's, else the packaged chart
    /// `CHARTS_DIR/<engine>-<version>.tgz` (what `helm package` writes).
    func chartPath(_ store: StoreRecord) throws -> String {
        let directory = "\(settings.chartsDirectory)/\(store.engine)"
        guard let wanted = store.spec.chartVersion, wanted != Self.chartVersion(at: directory) else { return directory }
        let packaged = "\(settings.chartsDirectory)/\(store.engine)-\(wanted).tgz"
        guard FileManager.default.fileExists(atPath: packaged) else {
            throw StepFailure.permanent(
                "chart \(store.engine) version \(wanted) is not on this worker: its own chart is version \(Self.chartVersion(at: directory) ?? "unknown"), and \(packaged) does not exist; add the packaged chart (helm package) to the worker's CHARTS_DIR")
        }
        return packaged
    }

    /// The `version:` of a chart directory's Chart.yaml.
    static func chartVersion(at directory: String) -> String? {
        guard let text = try? String(contentsOfFile: "\(directory)/Chart.yaml", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("version:") {
            return line.dropFirst("version:".count).trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
        }
        return nil
    }
}

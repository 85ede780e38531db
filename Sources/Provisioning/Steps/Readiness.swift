import Foundation
import Jobs
import KubeClient
import ServiceRuntime

extension Provisioner {
    /// Waits until the release's Deployments and StatefulSets are ready at their current generation and
    /// its newest setup Job has succeeded, reporting "2/3 workloads ready" and, for a stuck pod, why
    /// (ImagePullBackOff, CrashLoopBackOff, Pending for quota or storage). Then the store must sell: its
    /// storefront API lists products (see `StorefrontCheck`).
    /// A Deployment or StatefulSet is rolled out when the controller has seen its current spec and
    /// every wanted replica is both updated to it and ready: ready replicas alone count the old pods of
    /// an upgrade still in progress.
    static func rolledOut(_ workload: JSON) -> Bool {
        let wanted = workload.at("spec", "replicas")?.int ?? 1
        let observed = (workload.at("status", "observedGeneration")?.int ?? 0) >= (workload.at("metadata", "generation")?.int ?? 1)
        let updated = workload.at("status", "updatedReplicas")?.int ?? 0
        let ready = workload.at("status", "readyReplicas")?.int ?? 0
        // As `kubectl rollout status` reads it: no old replica left, and the updated ones available
        // (readyReplicas counts ready pods of the old ReplicaSet as well).
        let total = workload.at("status", "replicas")?.int ?? updated
        let available = workload.at("status", "availableReplicas")?.int ?? ready
        // A StatefulSet's rollout is over when its current revision is the update revision.
        let current = workload.at("status", "currentRevision")?.string
        let update = workload.at("status", "updateRevision")?.string
        let revisionDone = current == nil || update == nil || current == update
        return observed && updated >= wanted && total <= updated && ready >= wanted && available >= updated && revisionDone
    }

    static func condition(_ type: String, of object: JSON) -> JSON? {
        (object.at("status", "conditions")?.arrayValue ?? []).first { $0["type"]?.string == type && $0["status"]?.string == "True" }
    }

    func readinessStep() -> StepDefinition {
        StepDefinition("readiness", timeout: settings.readinessTimeout, retry: RetryPolicy(maxAttempts: 3, initialDelay: 5, maxDelay: 30)) { context in
            let store = try await self.store(context)
            let selector = [("labelSelector", "app.kubernetes.io/instance=\(store.release)")]
            var lastMessage = ""
            var looks = 0
            while true {
                try context.checkpoint()
                looks += 1
                var total = 0
                var ready = 0
                var waiting: [String] = []
                for (group, plural) in [("apps/v1", "deployments"), ("apps/v1", "statefulsets")] {
                    for item in try await kube.get(Paths.group(group, store.namespace, plural), query: selector)["items"]?.arrayValue ?? [] {
                        total += 1
                        let name = item.at("metadata", "name")?.string ?? "?"
                        if Self.rolledOut(item) { ready += 1 } else { waiting.append(name) }
                    }
                }
                let jobs = try await kube.get(Paths.group("batch/v1", store.namespace, "jobs"), query: selector)["items"]?.arrayValue ?? []
                if let newest = jobs.max(by: { ($0.at("metadata", "creationTimestamp")?.string ?? "") < ($1.at("metadata", "creationTimestamp")?.string ?? "") }) {
                    total += 1
                    let name = newest.at("metadata", "name")?.string ?? ""
                    if (newest.at("status", "succeeded")?.int ?? 0) >= 1 {
                        ready += 1
                    } else if let failed = Self.condition("Failed", of: newest) {
                        // Past its backoffLimit or its activeDeadlineSeconds: the Job will not run again.
                        let why = [failed["reason"]?.string, failed["message"]?.string].compactMap { $0 }.joined(separator: ": ")
                        throw StepFailure.permanent("setup job \(name) failed (\(why.isEmpty ? "no reason given" : why)); see its logs with kubectl -n \(store.namespace) logs job/\(name), then retry the store")
                    } else {
                        waiting.append(newest.at("metadata", "name")?.string ?? "setup")
                    }
                }
                if total > 0, ready == total { break }
                var message = total == 0 ? "waiting for the release's workloads to appear" : "\(ready)/\(total) workloads ready"
                if let why = try await stuckReason(store) { message += "; \(why)" }
                if message != lastMessage {
                    await context.report(message)
                    lastMessage = message
                }
                try await Self.readinessPolls.sleep(after: looks)
            }
            guard settings.storefrontCheck else {
                await context.report("all workloads ready (storefront check off)")
                return
            }
            // Ready pods are not yet a shop: the check passes once the store's own API lists products.
            let storefront = StorefrontCheck(kube: kube)
            var emptyAnswers = 0
            looks = 0
            while true {
                try context.checkpoint()
                looks += 1
                let message: String
                switch try await storefront.check(store) {
                case .sells(let products):
                    await context.report("all workloads ready; the storefront lists \(products) products")
                    return
                case .notYet(let why):
                    message = "workloads ready; waiting for the storefront: \(why)"
                case .empty(let why):
                    // A catalog that stays empty after the setup Job succeeded will not fill by waiting.
                    emptyAnswers += 1
                    guard emptyAnswers < 5 else {
                        throw StepFailure.permanent("\(why) although the setup Job succeeded; its seeding went wrong — read kubectl -n \(store.namespace) logs -l app.kubernetes.io/component=setup, then retry the store")
                    }
                    message = "workloads ready; \(why) yet"
                }
                if message != lastMessage {
                    await context.report(message)
                    lastMessage = message
                }
                try await Self.readinessPolls.sleep(after: looks)
            }
        }
    }

    /// Workloads usually become ready seconds after the release, so the first looks come quickly
    /// (0.5 s, then 0.75, 1.1, 1.7 s); a slow store is looked at every 2 s, about five API calls each.
    static let readinessPolls = PollSchedule(first: 0.5, growth: 1.5, longest: 2)

    /// The first reason a pod of the store is stuck, from pod status and warning events.
    func stuckReason(_ store: StoreRecord) async throws -> String? {
        for pod in try await kube.get(Paths.core(store.namespace, "pods"))["items"]?.arrayValue ?? [] {
            for status in pod.at("status", "containerStatuses")?.arrayValue ?? [] {
                if let reason = status.at("state", "waiting", "reason")?.string,
                   ["ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "CreateContainerConfigError"].contains(reason) {
                    let detail = status.at("state", "waiting", "message")?.string.map { ": \($0)" } ?? ""
                    return "pod \(pod.at("metadata", "name")?.string ?? "?") is in \(reason)\(detail)"
                }
            }
        }
        for event in try await kube.get(Paths.core(store.namespace, "events"))["items"]?.arrayValue ?? [] where event["type"]?.string == "Warning" {
            let reason = event["reason"]?.string ?? ""
            if ["FailedCreate", "FailedScheduling", "ProvisioningFailed", "FailedMount"].contains(reason) {
                return "\(event.at("involvedObject", "kind")?.string ?? "") \(event.at("involvedObject", "name")?.string ?? ""): \(event["message"]?.string ?? reason)"
            }
        }
        return nil
    }
}

import Foundation
import Jobs
import KubeClient
import ServiceRuntime

extension Provisioner {
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

    /// The name of the release's newest setup Job when it has failed for good, else nil.
    func failedSetupJob(_ store: StoreRecord) async throws -> String? {
        let selector = [("labelSelector", "app.kubernetes.io/instance=\(store.release),app.kubernetes.io/component=setup")]
        let jobs = try await kube.get(Paths.group("batch/v1", store.namespace, "jobs"), query: selector)["items"]?.arrayValue ?? []
        guard let newest = jobs.max(by: { ($0.at("metadata", "creationTimestamp")?.string ?? "") < ($1.at("metadata", "creationTimestamp")?.string ?? "") }),
              newest.at("metadata", "deletionTimestamp") == nil, Self.condition("Failed", of: newest) != nil else { return nil }
        return newest.at("metadata", "name")?.string
    }

    static func condition(_ type: String, of object: JSON) -> JSON? {
        (object.at("status", "conditions")?.arrayValue ?? []).first { $0["type"]?.string == type && $0["status"]?.string == "True" }
    }

    /// Waits until the release's Deployments and StatefulSets are rolled out and its newest setup Job has
    /// succeeded, reporting "2/3 workloads ready" and, for a stuck pod, why (ImagePullBackOff,
    /// CrashLoopBackOff, Pending for quota or storage). Then the store must sell: its storefront API
    /// lists products (see `StorefrontCheck`).
    func readinessStep() -> StepDefinition {
        StepDefinition("readiness", timeout: settings.readinessTimeout, retry: RetryPolicy(maxAttempts: 3, initialDelay: 5, maxDelay: 30)) { context in
            let store = try await self.store(context)
            // Every attempt looks at the release before it waits (a retry after a readiness that timed
            // out above all): an install that went over a dying claim left pods no wait can schedule.
            // A setup Job that failed for good (the reason a retry was asked for) never runs again on its
            // own: it goes, and the release is made again, which makes the setup Job anew (a new revision
            // on a real helm, the same object recreated on the stand-in). Only on the first attempt of a
            // run that starts here, as a retry's does: a Job that failed under this run's own release is
            // the failure to report, not to repeat.
            let runStartsHere = context.job.steps.firstIndex(of: context.step) == context.job.currentStep
            if runStartsHere, context.attempt == 1, let failed = try await failedSetupJob(store) {
                await context.report("setup job \(failed) failed earlier; deleting it and releasing again")
                try await kube.delete(Paths.group("batch/v1", store.namespace, "jobs", failed))
            }
            if let broken = try await releaseNeedsRepair(store) {
                // Inside this step's own limit, so that the step's timeout never stops helm.
                let budget = settings.readinessTimeout - 30
                guard budget >= 60 else {
                    throw StepFailure.permanent("\(broken), and READINESS_TIMEOUT leaves no time to release again; retry the store with a longer READINESS_TIMEOUT")
                }
                await context.report("\(broken); releasing again")
                try await installRelease(store, context: context, budget: min(budget, settings.releaseTimeout + 110))
            }
            try await waitUntilReady(store, context: context)
        }
    }

    /// Waits until every workload of the release is rolled out, its newest setup Job has succeeded and
    /// (unless the check is off) the storefront sells; reports what it waits for. A setup Job or a
    /// catalog that can no longer come right is a permanent failure; the caller bounds the time.
    func waitUntilReady(_ store: StoreRecord, context: StepContext) async throws {
        let selector = [("labelSelector", "app.kubernetes.io/instance=\(store.release)")]
        var lastMessage = ""
        var looks = 0
        while true {
            try context.checkpoint()
            looks += 1
            var total = 0
            var ready = 0
            var waiting: [JSON] = []
            for (group, plural) in [("apps/v1", "deployments"), ("apps/v1", "statefulsets")] {
                for item in try await kube.get(Paths.group(group, store.namespace, plural), query: selector)["items"]?.arrayValue ?? [] {
                    total += 1
                    if Self.rolledOut(item) { ready += 1 } else { waiting.append(item) }
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
                    waiting.append(newest)
                }
            }
            if total > 0, ready == total { break }
            var message = total == 0 ? "waiting for the release's workloads to appear" : "\(ready)/\(total) workloads ready"
            if let why = try await blockers(namespace: store.namespace, waiting: waiting) { message += "; \(why)" }
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

    /// Workloads usually become ready seconds after the release, so the first looks come quickly
    /// (0.5 s, then 0.75, 1.1, 1.7 s); a slow store is looked at every 2 s, about five API calls each.
    static let readinessPolls = PollSchedule(first: 0.5, growth: 1.5, longest: 2)

    /// Container states that will not resolve by waiting a little.
    static let stuckStates: Set<String> = [
        "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError",
    ]

    /// Why each workload that is not ready waits, named from its own pods: their current conditions
    /// and container states first, then the newest warning event about one of them. Pods on their way
    /// out (a previous revision's) and events older than the pod they name are ignored; a workload with
    /// no pods of its own is explained by the newest warning about the workload or its ReplicaSet
    /// (a quota refusal, say), which is never stale while it has no pods.
    func blockers(namespace: String, waiting: [JSON]) async throws -> String? {
        guard !waiting.isEmpty else { return nil }
        let pods = (try await kube.get(Paths.core(namespace, "pods"))["items"]?.arrayValue ?? [])
            .filter { $0.at("metadata", "deletionTimestamp") == nil }
            .sorted { ($0.at("metadata", "creationTimestamp")?.string ?? "") > ($1.at("metadata", "creationTimestamp")?.string ?? "") }
        let events = (try await kube.get(Paths.core(namespace, "events"))["items"]?.arrayValue ?? [])
            .filter { $0["type"]?.string == "Warning" }
            .sorted { Self.eventTime($0) > Self.eventTime($1) }
        var reasons: [String] = []
        for workload in waiting {
            let name = workload.at("metadata", "name")?.string ?? "?"
            // A Deployment's pods belong to its ReplicaSets, so they are found by the workload's selector.
            let selector = workload.at("spec", "selector", "matchLabels")?.objectValue
                ?? workload.at("spec", "template", "metadata", "labels")?.objectValue ?? [:]
            let own = selector.isEmpty ? [] : pods.filter { pod in
                let labels = pod.at("metadata", "labels")?.objectValue ?? [:]
                return selector.allSatisfy { labels[$0.key] == $0.value }
            }
            if let why = Self.podBlocker(own, events: events) {
                reasons.append("\(name): \(why)")
            } else if own.isEmpty, let event = events.first(where: { event in
                let kind = event.at("involvedObject", "kind")?.string ?? ""
                let object = event.at("involvedObject", "name")?.string ?? ""
                return ["Deployment", "ReplicaSet", "StatefulSet", "Job"].contains(kind) && (object == name || object.hasPrefix("\(name)-"))
            }) {
                reasons.append("\(name): \(event["message"]?.string ?? event["reason"]?.string ?? "no pods")")
            }
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    /// The first thing that holds one of these pods (newest pod first), or nil.
    static func podBlocker(_ pods: [JSON], events: [JSON]) -> String? {
        for pod in pods {
            let name = pod.at("metadata", "name")?.string ?? "?"
            let conditions = pod.at("status", "conditions")?.arrayValue ?? []
            if let scheduled = conditions.first(where: { $0["type"]?.string == "PodScheduled" }), scheduled["status"]?.string == "False" {
                return "pod \(name) cannot be scheduled: \(scheduled["message"]?.string ?? scheduled["reason"]?.string ?? "no reason given")"
            }
            let statuses = (pod.at("status", "initContainerStatuses")?.arrayValue ?? []) + (pod.at("status", "containerStatuses")?.arrayValue ?? [])
            for status in statuses {
                if let reason = status.at("state", "waiting", "reason")?.string, stuckStates.contains(reason) {
                    let detail = status.at("state", "waiting", "message")?.string.map { ": \($0)" } ?? ""
                    return "pod \(name) container \(status["name"]?.string ?? "?") is in \(reason)\(detail)"
                }
            }
        }
        for pod in pods where condition("Ready", of: pod) == nil {
            let name = pod.at("metadata", "name")?.string ?? "?"
            let created = pod.at("metadata", "creationTimestamp")?.string ?? ""
            // A scheduling failure from before the pod was placed is history, as is anything older than the pod.
            let scheduled = condition("PodScheduled", of: pod) != nil
            if let event = events.first(where: {
                $0.at("involvedObject", "kind")?.string == "Pod" && $0.at("involvedObject", "name")?.string == name && eventTime($0) >= created
                    && !(scheduled && $0["reason"]?.string == "FailedScheduling")
            }) {
                return "pod \(name): \(event["reason"]?.string ?? "Warning"): \(event["message"]?.string ?? "")"
            }
        }
        return nil
    }

    /// When an event last happened: `lastTimestamp` (core/v1 events), else `eventTime` (events.k8s.io
    /// writers), else when it was recorded.
    static func eventTime(_ event: JSON) -> String {
        event["lastTimestamp"]?.string ?? event["eventTime"]?.string ?? event.at("metadata", "creationTimestamp")?.string ?? ""
    }
}

import KubeClient
import Foundation
import ServiceRuntime

/// Timing of the simulated cluster.
public struct SimulatorTiming: Codable, Sendable {
    /// How long after its spec changes a Deployment or StatefulSet becomes ready.
    public var readyDelay: Double = 1
    /// How long a Job takes to succeed.
    public var jobDelay: Double = 1
    /// How long a deleted namespace stays Terminating before it and its contents are gone.
    public var namespaceDeletionDelay: Double = 0.5
    /// How long a deleted pod takes to stop (its containers' shutdown within the grace period).
    public var podTerminationDelay: Double = 0.5
    /// How often the controllers run.
    public var tick: Double = 0.05

    public init() {}
}

/// What the kubelet, the workload controllers and the namespace controller would do: make workloads
/// ready after a delay (with pods that show why when they are not), run Jobs to completion, enforce
/// ResourceQuota enough that an over-quota workload never becomes ready, and finish namespace deletion.
final class Controllers: Sendable {
    let store: ObjectStore
    let faults: LockedState<FaultSettings>
    let timing: LockedState<SimulatorTiming>
    /// What each workload was last reconciled to. A workload whose inputs have not changed since (same
    /// generation, readiness, fault and quota verdict, its pods still there) is left alone: rewriting
    /// its pods and status every tick cost more CPU than everything else the simulator does.
    private let reconciled = LockedState<[ObjectKey: Verdict]>([:])
    /// The quota verdicts and the store revision they were computed at: they change only with objects.
    private let quotaVerdicts = LockedState<(revision: Int, limitRange: [ObjectKey: String], quota: [ObjectKey: String])?>(nil)

    struct Verdict: Equatable {
        let generation: Int
        let replicas: Int
        let changed: Date
        let ready: Bool
        let failed: Bool
        let stuck: String?
        let crashing: String?
        let quotaMessage: String?
        let unschedulable: String?
    }

    init(store: ObjectStore, faults: LockedState<FaultSettings>, timing: LockedState<SimulatorTiming>) {
        self.store = store
        self.faults = faults
        self.timing = timing
    }

    static let namespaces = ResourceCatalog.type(group: "", version: "v1", plural: "namespaces")!
    static let deployments = ResourceCatalog.type(group: "apps", version: "v1", plural: "deployments")!
    static let statefulSets = ResourceCatalog.type(group: "apps", version: "v1", plural: "statefulsets")!
    static let jobs = ResourceCatalog.type(group: "batch", version: "v1", plural: "jobs")!
    static let pods = ResourceCatalog.type(group: "", version: "v1", plural: "pods")!
    static let events = ResourceCatalog.type(group: "", version: "v1", plural: "events")!
    static let quotas = ResourceCatalog.type(group: "", version: "v1", plural: "resourcequotas")!
    static let limitRanges = ResourceCatalog.type(group: "", version: "v1", plural: "limitranges")!

    func run() async {
        while !Task.isCancelled {
            tick(now: Date())
            try? await Task.sleep(for: .seconds(timing.withLock { $0.tick }))
        }
    }

    func tick(now: Date) {
        let timing = self.timing.withLock { $0 }
        let faults = self.faults.withLock { $0 }
        finishNamespaceDeletions(now: now, timing: timing, faults: faults)
        collectOrphans()
        finishPodTerminations(now: now, timing: timing)
        releaseUnusedClaims()
        let revision = store.revision
        let limitRangeRefused: [ObjectKey: String], quotaBlocked: [ObjectKey: String]
        if let cached = quotaVerdicts.withLock({ $0 }), cached.revision == revision {
            (limitRangeRefused, quotaBlocked) = (cached.limitRange, cached.quota)
        } else {
            // LimitRanger refuses a pod before the quota is consulted; a refused workload uses none.
            limitRangeRefused = limitRangeRefusals()
            quotaBlocked = overQuotaWorkloads(skipping: Set(limitRangeRefused.keys))
            quotaVerdicts.withLock { $0 = (revision, limitRangeRefused, quotaBlocked) }
        }
        var seen: Set<ObjectKey> = []
        for type in [Self.deployments, Self.statefulSets, Self.jobs] {
            for (key, object) in store.all(type) {
                seen.insert(key)
                // Admission in the API server's order: LimitRanger, then Pod Security, then the quota.
                let refusal = limitRangeRefused[key] ?? podSecurityRefusal(key, object) ?? quotaBlocked[key]
                reconcile(key, object, now: now, timing: timing, faults: faults, quotaMessage: refusal)
            }
        }
        reconciled.withLock { verdicts in verdicts = verdicts.filter { seen.contains($0.key) } }
        podSecurityVerdicts.withLock { verdicts in verdicts = verdicts.filter { seen.contains($0.key) } }
        publishKeys()
    }

    /// A StatefulSet's pods are `<name>-<ordinal>` (a successor waits for its predecessor to be gone);
    /// other owners' pods take a suffix from the owner's uid, so a recreated owner gets new pods while
    /// the old ones are still terminating.
    /// Pod Security verdicts by workload, valid while its generation and its namespace's
    /// resourceVersion stay the same (evaluating every workload on every tick would cost the most).
    private let podSecurityVerdicts = LockedState<[ObjectKey: (stamp: String, refusal: String?)]>([:])

    /// What Pod Security admission says to this workload's pods: the FailedCreate message, or nil.
    private func podSecurityRefusal(_ key: ObjectKey, _ object: JSON) -> String? {
        let namespace = key.namespace.flatMap { try? store.get(Self.namespaces, namespace: nil, name: $0) }
        let stamp = "\(object.at("metadata", "uid")?.string ?? "")/\(object.at("metadata", "generation")?.int ?? 0)/\(namespace?.at("metadata", "resourceVersion")?.string ?? "")"
        if let cached = podSecurityVerdicts.withLock({ $0[key] }), cached.stamp == stamp { return cached.refusal }
        let refusal = PodSecurity.refusal(podSpec: object.at("spec", "template", "spec") ?? [:], annotations: object.at("spec", "template", "metadata", "annotations"), namespace: namespace)
            .map { "Error creating: pods \"\(key.name)-\" is forbidden: \($0)" }
        podSecurityVerdicts.withLock { $0[key] = (stamp, refusal) }
        return refusal
    }

    private func podNames(of key: ObjectKey, uid: String, count: Int) -> [String] {
        (0..<count).map { index in
            key.type == Self.statefulSets ? "\(key.name)-\(index)" : "\(key.name)-\(Self.suffix(key.name + uid))-\(index)"
        }
    }

    private func finishNamespaceDeletions(now: Date, timing: SimulatorTiming, faults: FaultSettings) {
        for (key, object) in store.all(Self.namespaces) where object.at("status", "phase")?.string == "Terminating" {
            guard !faults.hangs(namespace: key.name),
                  let since = store.deletionStartedAt(key),
                  now.timeIntervalSince(since) >= timing.namespaceDeletionDelay
            else { continue }
            store.remove(store.objects(inNamespace: key.name) + [key])
        }
    }

    private func reconcile(_ key: ObjectKey, _ object: JSON, now: Date, timing: SimulatorTiming, faults: FaultSettings, quotaMessage: String?) {
        let isJob = key.type == Self.jobs
        // A finished Job stays finished, as the Job controller leaves it: one that failed for good does
        // not succeed later because the cause went away (a fault cleared), and the reverse.
        if isJob, (object.at("status", "conditions")?.arrayValue ?? []).contains(where: {
            ["Complete", "Failed"].contains($0["type"]?.string ?? "") && $0["status"]?.string == "True"
        }) { return }
        let replicas = isJob ? 1 : (object.at("spec", "replicas")?.int ?? 1)
        let generation = object.at("metadata", "generation")?.int ?? 1
        let containers = object.at("spec", "template", "spec", "containers")?.arrayValue ?? []
        let images = containers.compactMap { $0["image"]?.string }
        let changed = store.specChangedAt(key) ?? now
        let delay = isJob ? timing.jobDelay : timing.readyDelay
        let stuck = faults.neverReady(name: key.name, images: images)
        // A crashing workload's pods start (after the usual delay) but never become ready.
        let crashing = isJob ? nil : faults.crashes(name: key.name, images: images)
        let due = quotaMessage == nil && stuck == nil && now.timeIntervalSince(changed) >= delay
        let failing = isJob && faults.failsJob(key.name)
        let unschedulable = claimProblem(object.at("spec", "template", "spec"), namespace: key.namespace)
        let uid = object.at("metadata", "uid")?.string ?? ""
        let verdict = Verdict(generation: generation, replicas: replicas, changed: changed,
                              ready: due && !failing && unschedulable == nil && crashing == nil, failed: due && failing && unschedulable == nil, stuck: stuck,
                              crashing: due ? crashing : nil,
                              quotaMessage: quotaMessage, unschedulable: unschedulable)
        let podsPresent = quotaMessage != nil
            || podNames(of: key, uid: uid, count: replicas).allSatisfy { (try? store.get(Self.pods, namespace: key.namespace, name: $0)) != nil }
        if podsPresent, reconciled.withLock({ $0[key] }) == verdict { return }
        reconciled.withLock { $0[key] = verdict }

        if let quotaMessage {
            recordEvent(for: key, reason: "FailedCreate", message: quotaMessage)
            removePods(of: key)
            store.updateStatus(key) { status in
                status.set(["status", "observedGeneration"], to: .number(Double(generation)))
                status.set(["status", "readyReplicas"], to: 0)
                status.set(["status", "replicas"], to: 0)
            }
            return
        }

        let ready = verdict.ready
        upsertPods(of: key, object: object, count: replicas, ready: ready, stuckPattern: stuck, crashPattern: verdict.crashing, images: images, unschedulable: unschedulable)
        if !isJob { scaleDown(key, uid: uid, keeping: replicas) }
        if let crashing = verdict.crashing {
            recordEvent(for: key, reason: "BackOff", message: "Back-off restarting failed container running \"\(images.first { $0.contains(crashing) } ?? images.first ?? crashing)\"")
        }
        if let stuck {
            recordEvent(for: key, reason: "BackOff", message: "Back-off pulling image \"\(images.first { $0.contains(stuck) } ?? images.first ?? stuck)\"")
        }
        store.updateStatus(key) { status in
            if isJob {
                status.set(["status", "active"], to: ready || verdict.failed ? nil : 1)
                if verdict.failed {
                    let limit = object.at("spec", "backoffLimit")?.int ?? 6
                    status.set(["status", "failed"], to: .number(Double(limit + 1)))
                    status.set(["status", "conditions"], to: [
                        ["type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"],
                        ["type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"],
                    ])
                }
                if ready {
                    status.set(["status", "succeeded"], to: 1)
                    status.set(["status", "completionTime"], to: .string(ObjectStore.timestamp(now)))
                    status.set(["status", "conditions"], to: [["type": "Complete", "status": "True"]])
                }
                if status.at("status", "startTime") == nil { status.set(["status", "startTime"], to: .string(ObjectStore.timestamp(changed))) }
            } else {
                status.set(["status", "observedGeneration"], to: .number(Double(generation)))
                status.set(["status", "replicas"], to: .number(Double(replicas)))
                status.set(["status", "updatedReplicas"], to: .number(Double(replicas)))
                status.set(["status", "readyReplicas"], to: .number(Double(ready ? replicas : 0)))
                status.set(["status", "availableReplicas"], to: .number(Double(ready ? replicas : 0)))
                if key.type == Self.statefulSets {
                    status.set(["status", "currentReplicas"], to: .number(Double(replicas)))
                }
                status.set(["status", "conditions"], to: [["type": "Available", "status": .string(ready ? "True" : "False")]])
            }
        }
    }

    private func upsertPods(of key: ObjectKey, object: JSON, count: Int, ready: Bool, stuckPattern: String?, crashPattern: String? = nil,
                            images: [String], unschedulable: String?) {
        let labels = object.at("spec", "template", "metadata", "labels") ?? [:]
        let uid = object.at("metadata", "uid")?.string ?? ""
        for name in podNames(of: key, uid: uid, count: count) {
            let podKey = ObjectKey(type: Self.pods, namespace: key.namespace, name: name)
            // A StatefulSet's next pod of this name waits until the terminating one is gone.
            if let existing = try? store.get(Self.pods, namespace: key.namespace, name: name), existing.at("metadata", "deletionTimestamp") != nil { continue }
            let status: JSON
            if let unschedulable {
                // What the scheduler writes for a pod whose claim is missing or being deleted.
                status = [
                    "phase": "Pending",
                    "conditions": [["type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": .string(unschedulable)]],
                ]
                recordEvent(involving: ["kind": "Pod", "name": .string(name), "namespace": .string(key.namespace ?? "default")],
                            name: "\(name).failedscheduling", namespace: key.namespace, reason: "FailedScheduling", message: unschedulable)
            } else {
                var containerStatuses: [JSON] = []
                for (position, image) in images.enumerated() {
                    let state: JSON
                    var restarts = 0
                    var lastState: JSON?
                    if let crashPattern, image.contains(crashPattern) || key.name.contains(crashPattern) {
                        // What the kubelet shows of a container that exits soon after it starts.
                        restarts = 3
                        lastState = ["terminated": ["exitCode": 1, "reason": "Error", "finishedAt": .string(ObjectStore.timestamp(Date()))]]
                        state = ["waiting": ["reason": "CrashLoopBackOff", "message": .string("back-off 40s restarting failed container=c\(position)")]]
                    } else if ready {
                        state = ["running": ["startedAt": .string(ObjectStore.timestamp(Date()))]]
                    } else if let stuckPattern, image.contains(stuckPattern) || key.name.contains(stuckPattern) {
                        state = ["waiting": ["reason": "ImagePullBackOff", "message": .string("Back-off pulling image \"\(image)\"")]]
                    } else {
                        state = ["waiting": ["reason": "ContainerCreating"]]
                    }
                    var containerStatus: JSON = [
                        "name": .string("c\(position)"), "image": .string(image), "ready": .bool(ready),
                        "restartCount": .number(Double(restarts)), "state": state,
                    ]
                    if let lastState { containerStatus["lastState"] = lastState }
                    containerStatuses.append(containerStatus)
                }
                status = [
                    "phase": .string(key.type == Self.jobs && ready ? "Succeeded" : (ready || crashPattern != nil ? "Running" : "Pending")),
                    "conditions": [["type": "PodScheduled", "status": "True"],
                                   ["type": "Ready", "status": .string(ready && key.type != Self.jobs ? "True" : "False")]],
                    "containerStatuses": .array(containerStatuses),
                ]
            }
            let pod: JSON = [
                "apiVersion": "v1", "kind": "Pod",
                "metadata": [
                    "name": .string(name), "namespace": .string(key.namespace ?? "default"), "labels": labels,
                    "ownerReferences": [["kind": .string(key.type.kind), "name": .string(key.name), "uid": .string(uid), "controller": true]],
                ],
                "spec": object.at("spec", "template", "spec") ?? [:],
                "status": status,
            ]
            store.upsertOwned(podKey, pod)
        }
    }

    /// What the ReplicaSet and StatefulSet controllers do when replicas go down (to zero, say, for a
    /// suspended store): the pods beyond the count are deleted, and terminate as any pod does.
    private func scaleDown(_ key: ObjectKey, uid: String, keeping count: Int) {
        let wanted = Set(podNames(of: key, uid: uid, count: count))
        for (podKey, pod) in store.all(Self.pods) where podKey.namespace == key.namespace && !wanted.contains(podKey.name)
            && pod.at("metadata", "deletionTimestamp") == nil
            && (pod.at("metadata", "ownerReferences")?.arrayValue ?? []).contains(where: { $0["uid"]?.string == uid && $0["name"]?.string == key.name }) {
            _ = try? store.delete(Self.pods, namespace: podKey.namespace, name: podKey.name)
        }
    }

    private func removePods(of key: ObjectKey) {
        let owned = store.all(Self.pods).filter { podKey, pod in
            podKey.namespace == key.namespace
                && (pod.at("metadata", "ownerReferences")?.arrayValue ?? []).contains { $0["name"]?.string == key.name && $0["kind"]?.string == key.type.kind }
        }.map(\.0)
        if !owned.isEmpty { store.remove(owned) }
    }

    /// Deletes pods whose owner is gone, or was replaced by another of the same name (the garbage
    /// collector's job, background propagation): they terminate, taking `podTerminationDelay`.
    func collectOrphans() {
        for (podKey, pod) in store.all(Self.pods) where pod.at("metadata", "deletionTimestamp") == nil {
            guard let owner = pod.at("metadata", "ownerReferences")?.arrayValue?.first,
                  let kind = owner["kind"]?.string, let name = owner["name"]?.string,
                  let type = ResourceCatalog.types.first(where: { $0.kind == kind })
            else { continue }
            let current = try? store.get(type, namespace: podKey.namespace, name: name)
            let replaced = owner["uid"]?.string.map { $0 != current?.at("metadata", "uid")?.string } ?? false
            if current == nil || replaced { _ = try? store.delete(Self.pods, namespace: podKey.namespace, name: podKey.name) }
        }
    }

    /// Pods whose grace period has run out are gone.
    private func finishPodTerminations(now: Date, timing: SimulatorTiming) {
        let done = store.all(Self.pods).filter { key, pod in
            pod.at("metadata", "deletionTimestamp") != nil
                && store.deletionStartedAt(key).map { now.timeIntervalSince($0) >= timing.podTerminationDelay } ?? true
        }.map(\.0)
        if !done.isEmpty { store.remove(done) }
    }

    static let claims = ResourceCatalog.type(group: "", version: "v1", plural: "persistentvolumeclaims")!

    /// The PVC protection controller: a deleted claim goes once no scheduled pod uses it (a pod the
    /// scheduler could not place does not hold it; a terminating one still does).
    private func releaseUnusedClaims() {
        let deleting = store.all(Self.claims).filter { $0.1.at("metadata", "deletionTimestamp") != nil }
        guard !deleting.isEmpty else { return }
        let pods = store.all(Self.pods)
        var gone: [ObjectKey] = []
        for (key, _) in deleting {
            let used = pods.contains { podKey, pod in
                podKey.namespace == key.namespace
                    && (pod.at("status", "conditions")?.arrayValue ?? []).contains { $0["type"]?.string == "PodScheduled" && $0["status"]?.string == "True" }
                    && (pod.at("spec", "volumes")?.arrayValue ?? []).contains { $0.at("persistentVolumeClaim", "claimName")?.string == key.name }
            }
            if !used { gone.append(key) }
        }
        if !gone.isEmpty { store.remove(gone) }
    }

    /// Why a pod of this template cannot be scheduled: a claim it mounts is missing or being deleted,
    /// in the words of the scheduler's volume binding plugin.
    private func claimProblem(_ podSpec: JSON?, namespace: String?) -> String? {
        for volume in podSpec?["volumes"]?.arrayValue ?? [] {
            guard let claim = volume.at("persistentVolumeClaim", "claimName")?.string else { continue }
            let problem: String
            if let object = try? store.get(Self.claims, namespace: namespace, name: claim) {
                guard object.at("metadata", "deletionTimestamp") != nil else { continue }
                problem = "persistentvolumeclaim \"\(claim)\" is being deleted"
            } else {
                problem = "persistentvolumeclaim \"\(claim)\" not found"
            }
            return "0/1 nodes are available: \(problem). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        }
        return nil
    }

    private func recordEvent(for key: ObjectKey, reason: String, message: String) {
        recordEvent(involving: ["kind": .string(key.type.kind), "name": .string(key.name), "namespace": .string(key.namespace ?? "default")],
                    name: "\(key.name).\(reason.lowercased())", namespace: key.namespace, reason: reason, message: message)
    }

    private func recordEvent(involving object: JSON, name: String, namespace: String?, reason: String, message: String) {
        let now = ObjectStore.timestamp(Date())
        let event: JSON = [
            "apiVersion": "v1", "kind": "Event",
            "metadata": ["name": .string(name), "namespace": .string(namespace ?? "default")],
            "involvedObject": object,
            "reason": .string(reason), "message": .string(message), "type": "Warning", "count": 1,
            "firstTimestamp": .string(now), "lastTimestamp": .string(now),
        ]
        store.upsertOwned(ObjectKey(type: Self.events, namespace: namespace, name: name), event)
    }

    // MARK: - Quota

    /// Workloads whose pods LimitRanger refuses, with the FailedCreate message.
    private func limitRangeRefusals() -> [ObjectKey: String] {
        let rangesByNamespace = Dictionary(grouping: store.all(Self.limitRanges), by: { $0.0.namespace ?? "" })
        guard !rangesByNamespace.isEmpty else { return [:] }
        var refused: [ObjectKey: String] = [:]
        for (key, object) in [Self.deployments, Self.statefulSets, Self.jobs].flatMap({ store.all($0) }) {
            guard let ranges = rangesByNamespace[key.namespace ?? ""],
                  let message = LimitRanger.refusal(podSpec: object.at("spec", "template", "spec") ?? [:], limitRanges: ranges.map(\.1))
            else { continue }
            refused[key] = "Error creating: pods \"\(key.name)-\" is forbidden: \(message)"
        }
        return refused
    }

    /// Workloads that do not fit their namespace's ResourceQuota, with the message a real cluster gives.
    private func overQuotaWorkloads(skipping refused: Set<ObjectKey>) -> [ObjectKey: String] {
        var blocked: [ObjectKey: String] = [:]
        let quotasByNamespace = Dictionary(grouping: store.all(Self.quotas), by: { $0.0.namespace ?? "" })
        guard !quotasByNamespace.isEmpty else { return [:] }
        let defaultsByNamespace = Dictionary(grouping: store.all(Self.limitRanges), by: { $0.0.namespace ?? "" })
        let workloads = [Self.deployments, Self.statefulSets, Self.jobs].flatMap { store.all($0) }
            .sorted { ($0.1.at("metadata", "creationTimestamp")?.string ?? "", $0.0.name) < ($1.1.at("metadata", "creationTimestamp")?.string ?? "", $1.0.name) }
        let workloadsByNamespace = Dictionary(grouping: workloads, by: { $0.0.namespace ?? "" })
        for (namespace, quotas) in quotasByNamespace {
            let defaults = LimitRanger.items((defaultsByNamespace[namespace] ?? []).map(\.1))
            var used: [String: Double] = [:]
            // Pods still within their grace period count against the quota, as on a real cluster: a
            // release reinstalled over one whose pods are stopping may not fit until they are gone.
            let terminating = store.all(Self.pods).filter { $0.0.namespace == namespace && $0.1.at("metadata", "deletionTimestamp") != nil }.count
            if terminating > 0 { used["pods"] = Double(terminating) }
            for (key, object) in workloadsByNamespace[namespace] ?? [] where !refused.contains(key) {
                let replicas = Double(key.type == Self.jobs ? 1 : (object.at("spec", "replicas")?.int ?? 1))
                var demand: [String: Double] = ["pods": replicas]
                for container in object.at("spec", "template", "spec", "containers")?.arrayValue ?? [] {
                    let admitted = LimitRanger.resources(container, items: defaults)
                    for (resource, section) in [("requests.cpu", admitted.requests), ("requests.memory", admitted.requests),
                                                ("limits.cpu", admitted.limits), ("limits.memory", admitted.limits)] {
                        guard let text = section[String(resource.split(separator: ".")[1])], let amount = Quantity.parse(text) else { continue }
                        demand[resource, default: 0] += amount * replicas
                    }
                }
                for (quotaKey, quota) in quotas {
                    for (resource, hardValue) in quota.at("spec", "hard")?.objectValue ?? [:] {
                        guard let hardText = hardValue.string ?? hardValue.int.map(String.init), let hard = Quantity.parse(hardText),
                              let wanted = demand[resource] ?? (resource == "cpu" ? demand["requests.cpu"] : resource == "memory" ? demand["requests.memory"] : nil)
                        else { continue }
                        if (used[resource] ?? 0) + wanted > hard + 1e-9 {
                            blocked[key] = "Error creating: pods \"\(key.name)-\" is forbidden: exceeded quota: \(quotaKey.name), requested: \(resource)=\(Quantity.format(wanted, resource)), used: \(resource)=\(Quantity.format(used[resource] ?? 0, resource)), limited: \(resource)=\(hardText)"
                        }
                    }
                }
                if blocked[key] == nil { for (resource, amount) in demand { used[resource, default: 0] += amount } }
            }
        }
        return blocked
    }

    static func suffix(_ name: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in name.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return String(hash % 0xFFFFF, radix: 36)
    }

}

/// Kubernetes resource quantities ("500m", "2", "512Mi", "1Gi", "10G") as plain numbers (cores, bytes).
enum Quantity {
    static func parse(_ text: String) -> Double? {
        let suffixes: [(String, Double)] = [
            ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776),
            ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("m", 1e-3),
        ]
        for (suffix, factor) in suffixes where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return Double(text)
    }

    static func format(_ value: Double, _ resource: String) -> String {
        if resource.hasSuffix("memory") || resource.hasSuffix("storage") { return "\(Int(value / 1_048_576))Mi" }
        if resource.hasSuffix("cpu") { return "\(Int((value * 1000).rounded()))m" }
        return "\(Int(value))"
    }
}

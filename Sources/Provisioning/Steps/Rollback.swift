import Foundation
import Jobs
import KubeClient
import Platform
import ServiceRuntime

extension Provisioner {
    /// An update's way back: when a step before it recorded that the update failed for good, restores
    /// the store's live revision (its plan's guardrails, then `helm rollback` to the helm revision that
    /// was deployed when the update began), waits until the store is ready again, records the revision
    /// rolled back and ends the job failed with the reason. Does nothing after an update that stood.
    func rollbackStep() -> StepDefinition {
        let budget = settings.releaseTimeout + settings.updateReadinessTimeout + 120
        return StepDefinition("rollback", timeout: budget + 60, retry: RetryPolicy(maxAttempts: 5, initialDelay: 5, maxDelay: 60)) { context in
            let (live, target, revision) = try await updateTarget(context)
            guard let reason = revision.rollbackReason else {
                await context.report("not needed: revision \(target.revision) is ready")
                return
            }
            if revision.outcome != "rolled-back" {
                try await withTimeout(seconds: budget, operation: "rollback") {
                    try await applyGuardrails(live, context: context)
                    if let previous = revision.helmPrevious {
                        try await rollBackRelease(live, to: previous, context: context)
                    }
                    await context.report("waiting for revision \(live.revision) to be ready again")
                    try await waitUntilReady(live, context: context)
                }
                try await context.fenced { connection in
                    _ = try await connection.query("""
                        UPDATE store_revisions SET outcome = 'rolled-back', finished_at = now()
                        WHERE store_id = \(live.id) AND revision = \(revision.number)
                        """)
                }
            }
            throw StepFailure.permanent("revision \(revision.number) (\(Self.describe(revision.spec))) was rolled back: \(reason); the store runs revision \(live.revision) (\(Self.describe(live.spec))) again and is ready")
        }
    }

    /// `helm rollback` to `previous`, unless that revision is still the newest and deployed. Again after a worker died mid-rollback: a second rollback to the
    /// same revision writes one more helm revision with the same manifest, which changes nothing. A
    /// pending revision an earlier attempt's helm may still be writing is waited out, as the release
    /// step does (helm refuses to roll back a release another helm is changing).
    func rollBackRelease(_ store: StoreRecord, to previous: Int, context: StepContext) async throws {
        let helmStorage = HelmStorage(kube: kube)
        if let current = try await helmStorage.latest(release: store.release, namespace: store.namespace) {
            if let wait = Self.pendingWait(current, releaseTimeout: settings.releaseTimeout) {
                throw StepFailure.retryable("the release is \(current.status): an earlier attempt's helm may still be running; rolling back in \(formatSeconds(wait))", after: wait)
            }
            // The update never wrote a revision (it failed before helm ran, or helm refused at once).
            if current.revision == previous, current.status == "deployed" { return }
        }
        try context.checkpoint()
        await context.report("helm rollback \(store.release) \(previous)")
        let outcome = try await helm.run(["rollback", store.release, String(previous), "-n", store.namespace, "--timeout", "\(Int(settings.releaseTimeout))s"],
                                         timeout: settings.releaseTimeout)
        guard outcome.succeeded else {
            throw StepFailure.retryable("helm rollback to revision \(previous) failed: \(HelmRunner.message(outcome))", cause: "helm")
        }
    }

    /// "plan medium, chart 0.2.0, app 6.9.0" with the chart's own versions as "default".
    static func describe(_ spec: StoreSpec) -> String {
        "plan \(spec.plan), chart \(spec.chartVersion ?? "default"), app \(spec.appVersion ?? "default")"
    }
}

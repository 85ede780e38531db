import Foundation
import Jobs
import Platform
import Postgres
import ServiceRuntime

/// The update job: a ready store's new plan or versions, with automatic rollback. Its steps apply the
/// revision the payload names; when one fails for good it does not end the job but records why
/// (`StoreRevision.markRollingBack`) and the steps after it stand aside until `rollback` has put the
/// previous revision back and waited for it to be ready; the job then ends failed with the reason, the
/// store ready on what it ran before. The decision is in Postgres, so a worker that dies mid-rollback
/// hands the job to another that carries on with the rollback, never with the update.
extension Provisioner {
    func updateDefinition() -> JobDefinition {
        JobDefinition(
            kind: StoreJobKinds.updateKind,
            steps: [
                updateStep("guardrails", budget: 60, retry: RetryPolicy(maxAttempts: 8, initialDelay: 1, maxDelay: 20)) { target, context in
                    try await applyGuardrails(target, context: context)
                },
                updateStep("release", budget: settings.releaseTimeout + 110, retry: RetryPolicy(maxAttempts: 3, initialDelay: 5, maxDelay: 60)) { target, context in
                    try await upgradeRelease(target, context: context)
                },
                updateStep("readiness", budget: settings.updateReadinessTimeout, retry: RetryPolicy(maxAttempts: 1, initialDelay: 0, maxDelay: 0)) { target, context in
                    try await waitUntilReady(target, context: context)
                },
                rollbackStep(),
                finalizeUpdateStep(),
            ],
            onFailed: { connection, job, message in
                // Rolled back: the store serves its previous revision and is ready; the job's error says
                // why the update did not stand. Otherwise the store is failed (a retry resumes the job).
                let revision = try JSONDecoder().decode(StoreRevision.Payload.self, from: Data(job.payload.utf8)).revision
                let outcome = try await connection.query("""
                    UPDATE store_revisions SET outcome = CASE WHEN outcome = 'rolled-back' THEN outcome ELSE 'failed' END,
                                               finished_at = now()
                    WHERE store_id = \(job.storeID) AND revision = \(revision)
                    RETURNING outcome
                    """).first?.decode("outcome", as: String.self)
                try await connection.query("""
                    UPDATE stores SET status = \(outcome == "rolled-back" ? "ready" : "failed"), last_error = \(message), updated_at = now()
                    WHERE id = \(job.storeID) AND status = 'updating'
                    """)
            },
            onCancelled: StoreJobHooks.updateCancelled
        )
    }

    /// The store as this update makes it, the revision it applies, and the store as it runs now.
    func updateTarget(_ context: StepContext) async throws -> (live: StoreRecord, target: StoreRecord, revision: StoreRevision) {
        let live = try await store(context)
        let payload = try context.payload(as: StoreRevision.Payload.self)
        let revision = try await StoreRevision.load(store: live.id, number: payload.revision, from: postgres)
        var target = live
        target.spec = revision.spec
        target.revision = revision.number
        return (live, target, revision)
    }

    /// A step of the update proper, within `budget` seconds (its own limit a minute more, so that the
    /// budget, not the engine, is what stops it). A failure for good is recorded as the reason to roll
    /// back and ends the step; once one is recorded, the step stands aside.
    func updateStep(_ name: String, budget: Double, retry: RetryPolicy,
                    _ body: @escaping @Sendable (StoreRecord, StepContext) async throws -> Void) -> StepDefinition {
        StepDefinition(name, timeout: budget + 60, retry: retry) { context in
            let (live, target, revision) = try await updateTarget(context)
            if let reason = revision.rollbackReason {
                await context.report("skipped: the update failed for good (\(reason)); rollback restores revision \(live.revision)")
                return
            }
            do {
                try await withTimeout(seconds: budget, operation: name) { try await body(target, context) }
            } catch {
                guard context.failsForGood(error) else { throw error }
                var reason = "\(name) failed: \(context.message(of: error))"
                if error is TimeoutError, let last = try? await lastReport(context) {
                    // What the step waited for when its time ran out says why (a pod in ImagePullBackOff).
                    reason += "; it was waiting: \(last)"
                }
                try await StoreRevision.markRollingBack(context, store: live.id, number: revision.number, reason: reason)
                await context.report("\(reason); rolling back to revision \(live.revision)")
            }
        }
    }

    /// The step's last progress report, as readers of the job saw it.
    func lastReport(_ context: StepContext) async throws -> String? {
        try await postgres.query("""
            SELECT message FROM job_steps WHERE job_id = \(context.job.id) AND name = \(context.step) ORDER BY position LIMIT 1
            """).first?.decode("message", as: String?.self)
    }

    /// Records the helm revision the store runs now (what a rollback restores), then `helm upgrade`s it
    /// to the target spec.
    func upgradeRelease(_ target: StoreRecord, context: StepContext) async throws {
        let payload = try context.payload(as: StoreRevision.Payload.self)
        let revision = try await StoreRevision.load(store: target.id, number: payload.revision, from: postgres)
        if revision.helmPrevious == nil {
            guard let current = try await HelmStorage(kube: kube).latest(release: target.release, namespace: target.namespace),
                  current.status == "deployed" else {
                throw StepFailure.permanent("the store's release is not deployed, so there is no revision to come back to; delete the store or retry it later")
            }
            try await StoreRevision.recordHelmPrevious(context, store: target.id, number: revision.number, helmRevision: current.revision)
        }
        try await installRelease(target, context: context, budget: settings.releaseTimeout + 100)
    }
}

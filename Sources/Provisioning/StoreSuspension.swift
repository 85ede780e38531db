import Foundation
import Jobs
import Platform
import Postgres

/// Suspending and resuming a store. Both remake the release (helm owns the replicas it rendered: a
/// scale by hand would be undone by the next upgrade and fight helm's field ownership), with
/// `suspended` true or false; the volumes, and so the shop's data, stay throughout.
extension Provisioner {
    func suspendDefinition() -> JobDefinition {
        JobDefinition(
            kind: StoreJobKinds.suspendKind,
            steps: [
                StepDefinition("release", timeout: settings.releaseTimeout + 120, retry: RetryPolicy(maxAttempts: 5, initialDelay: 5, maxDelay: 60)) { context in
                    var store = try await self.store(context)
                    store.suspended = true
                    try await installRelease(store, context: context, budget: settings.releaseTimeout + 110)
                },
                stoppedStep(),
                StepDefinition("finalize", timeout: 30) { context in
                    let store = try await self.store(context)
                    try await context.fenced { connection in
                        _ = try await connection.query("""
                            UPDATE stores SET status = 'suspended', suspended_at = now(), last_error = NULL, updated_at = now()
                            WHERE id = \(store.id) AND status IN ('suspending', 'failed')
                            """)
                    }
                },
            ],
            onFailed: { connection, job, message in
                // The store may be half stopped: failed, so that a retry finishes the suspension (or a
                // delete removes it). Who suspended it stays recorded for the retry.
                try await connection.query("""
                    UPDATE stores SET status = 'failed', last_error = \(message), updated_at = now()
                    WHERE id = \(job.storeID) AND status = 'suspending'
                    """)
            }
        )
    }

    func resumeDefinition() -> JobDefinition {
        JobDefinition(
            kind: StoreJobKinds.resumeKind,
            steps: [
                StepDefinition("release", timeout: settings.releaseTimeout + 120, retry: RetryPolicy(maxAttempts: 5, initialDelay: 5, maxDelay: 60)) { context in
                    try await installRelease(try await self.store(context), context: context, budget: settings.releaseTimeout + 110)
                },
                // The same check as a create's: every workload rolled out, a new setup Job done, the
                // storefront selling.
                StepDefinition("readiness", timeout: settings.readinessTimeout, retry: RetryPolicy(maxAttempts: 3, initialDelay: 5, maxDelay: 30)) { context in
                    try await waitUntilReady(try await self.store(context), context: context)
                },
                StepDefinition("finalize", timeout: 30) { context in
                    let store = try await self.store(context)
                    try await context.fenced { connection in
                        _ = try await connection.query("""
                            UPDATE stores SET status = 'ready', suspended_by = NULL, suspended_at = NULL, suspension_reason = NULL,
                                              last_error = NULL, updated_at = now()
                            WHERE id = \(store.id) AND status IN ('resuming', 'failed')
                            """)
                    }
                },
            ],
            onFailed: { connection, job, message in
                try await connection.query("""
                    UPDATE stores SET status = 'failed', last_error = \(message), updated_at = now()
                    WHERE id = \(job.storeID) AND status = 'resuming'
                    """)
            }
        )
    }
}

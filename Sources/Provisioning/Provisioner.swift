import Foundation
import Jobs
import Platform
import KubeClient
import Logging
import Postgres
import ServiceRuntime

/// What every provisioning step works with: the cluster, the database, the helm binary and the settings.
public struct Provisioner: Sendable {
    public let kube: KubeClient
    public let postgres: PostgresPool
    public let helm: HelmRunner
    public let settings: ProvisioningSettings
    /// The API server's addresses, for the setup egress policy; shared with `SetupEgressRefresher`.
    public let apiServerCache = APIServerAddressCache()
    /// For what happens after a job has ended (a failed store's namespace removal), when no step logger is left.
    public var logger = Logger(label: "storefleet.provisioning")
    /// Where a rollout enqueues its stores' update jobs (dispatched through Redis after commit).
    public var queue: JobQueue?

    /// `kubeconfig` and `kubeContext` are handed to helm as `--kubeconfig` and `--kube-context` so that
    /// helm talks to the same cluster as this client; nil inside a pod, where helm finds the service
    /// account itself.
    public init(kube: KubeClient, postgres: PostgresPool, settings: ProvisioningSettings, kubeconfig: String?, kubeContext: String? = nil) {
        self.kube = kube
        self.postgres = postgres
        self.settings = settings
        self.helm = HelmRunner(binary: settings.helmBinary, kubeconfig: kubeconfig, kubeContext: kubeconfig == nil ? nil : kubeContext)
    }

    func store(_ context: StepContext) async throws -> StoreRecord {
        try await StoreRecord.load(context.job.storeID, from: postgres)
    }

    /// The create, update, suspend, resume and delete job definitions the worker registers.
    public func definitions() -> [JobDefinition] {
        [
            JobDefinition(
                kind: StoreJobKinds.createKind,
                steps: [namespaceStep(), guardrailsStep(), secretsStep(), releaseStep(), readinessStep(), finalizeCreateStep()],
                // Its namespace is gone, or going: a retry must start over from the namespace step.
                restartAfterFailure: settings.failedStorePolicy == "delete",
                beforeFailing: { job, message in await removeFailedStore(job, message) },
                onFailed: { connection, job, message in
                    try await connection.query("""
                        UPDATE stores SET status = 'failed', last_error = \(message), updated_at = now()
                        WHERE id = \(job.storeID) AND status = 'provisioning'
                        """)
                    try await connection.query("""
                        UPDATE store_revisions SET outcome = 'failed', finished_at = now()
                        WHERE store_id = \(job.storeID) AND revision = 1 AND outcome = 'pending'
                        """)
                }
            ),
            updateDefinition(),
            suspendDefinition(),
            resumeDefinition(),
            rolloutDefinition(),
            JobDefinition(
                kind: StoreJobKinds.deleteKind,
                steps: [uninstallStep(), deleteNamespaceStep(), waitGoneStep(), finalizeDeleteStep()],
                onFailed: { connection, job, message in
                    // Failed, not stuck in deleting: the store can be retried (POST /retry runs the delete
                    // again from its failed step) or deleted again.
                    try await connection.query("""
                        UPDATE stores SET status = 'failed', last_error = \(message), updated_at = now()
                        WHERE id = \(job.storeID) AND status = 'deleting'
                        """)
                }
            ),
        ]
    }
}

extension Provisioner {
    /// FAILED_STORE_POLICY=delete: removes a failed store's namespace, if it is the store's. The
    /// namespace (and its UID) is read while the claim still owns the job; the delete, with that UID as
    /// its precondition, runs only after the failure was recorded by this claim (`FailureCleanup`), so a
    /// worker frozen in between deletes nothing a newer claim made. Each half is bounded to 30 s: a
    /// cluster that cannot be reached now must not keep the failure unrecorded, and the store can still
    /// be deleted later.
    func removeFailedStore(_ job: ClaimedJob, _ message: String) async -> FailureCleanup {
        guard settings.failedStorePolicy == "delete" else { return FailureCleanup(message: message) }
        let store: StoreRecord
        let namespace: JSON
        do {
            store = try await StoreRecord.load(job.storeID, from: postgres)
            let found = try await withTimeout(seconds: 30, operation: "reading the failed store's namespace") { () async throws -> JSON? in
                guard case .ours(let namespace) = try await self.namespaceOwnership(store) else { return nil }
                return namespace
            }
            guard let found else { return FailureCleanup(message: message) }
            namespace = found
        } catch {
            return FailureCleanup(message: message + " (its namespace could not be read for deletion: \(error); delete the store to clean up)")
        }
        let logger = self.logger
        return FailureCleanup(
            message: message + " (namespace \(store.namespace) is deleted next: FAILED_STORE_POLICY=delete)",
            afterwards: {
                do {
                    _ = try await withTimeout(seconds: 30, operation: "deleting the failed store's namespace") {
                        try await self.deleteNamespace(store, read: namespace)
                    }
                } catch {
                    logger.error("could not delete a failed store's namespace; delete the store to clean up",
                                 metadata: ["store": "\(store.id.lower)", "namespace": "\(store.namespace)", "error": "\(error)"])
                }
            })
    }
}

/// Maps Kubernetes errors onto the engine's retry decisions, keeping the server's message and Retry-After.
extension KubeError: ClassifiedError {
    public var disposition: FailureDisposition {
        isRetryable ? .retryable(minimumDelay: retryAfter) : .permanent
    }

    /// "kubernetes-notfound", "kubernetes-forbidden", …: one per reason, a fixed set.
    public var cause: String { "kubernetes-\(reason.rawValue.lowercased())" }
}

enum Paths {
    static func namespace(_ name: String) -> String { "/api/v1/namespaces/\(name)" }
    static func core(_ namespace: String, _ plural: String, _ name: String? = nil) -> String {
        "/api/v1/namespaces/\(namespace)/\(plural)" + (name.map { "/\($0)" } ?? "")
    }
    static func group(_ group: String, _ namespace: String, _ plural: String, _ name: String? = nil) -> String {
        "/apis/\(group)/namespaces/\(namespace)/\(plural)" + (name.map { "/\($0)" } ?? "")
    }
}

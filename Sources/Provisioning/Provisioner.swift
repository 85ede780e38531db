import Foundation
import Jobs
import KubeClient
import Logging
import Postgres

/// What every provisioning step works with: the cluster, the database, the helm binary and the settings.
public struct Provisioner: Sendable {
    public let kube: KubeClient
    public let postgres: PostgresPool
    public let helm: HelmRunner
    public let settings: ProvisioningSettings

    /// `kubeconfig` is handed to helm as `--kubeconfig` so that helm talks to the same cluster as this
    /// client; nil inside a pod, where helm finds the service account itself.
    public init(kube: KubeClient, postgres: PostgresPool, settings: ProvisioningSettings, kubeconfig: String?) {
        self.kube = kube
        self.postgres = postgres
        self.settings = settings
        self.helm = HelmRunner(binary: settings.helmBinary, kubeconfig: kubeconfig)
    }

    func store(_ context: StepContext) async throws -> StoreRecord {
        try await StoreRecord.load(context.job.storeID, from: postgres)
    }

    /// The create and delete job definitions the worker registers.
    public func definitions() -> [JobDefinition] {
        [
            JobDefinition(
                kind: StorePlans.createKind,
                steps: [namespaceStep(), guardrailsStep(), secretsStep(), releaseStep(), readinessStep(), finalizeCreateStep()],
                onFailed: { connection, job, message in
                    var recorded = message
                    if settings.failedStorePolicy == "delete",
                       let namespace = try await connection.query("SELECT namespace FROM stores WHERE id = \(job.storeID)").first?.decode("namespace", as: String.self) {
                        // Best effort: a cluster that cannot be reached now must not keep the failure unrecorded.
                        let removed = (try? await kube.delete(Paths.namespace(namespace))) != nil
                        recorded += removed ? " (namespace \(namespace) deleted: FAILED_STORE_POLICY=delete)" : " (namespace \(namespace) could not be deleted; delete the store to clean up)"
                    }
                    try await connection.query("""
                        UPDATE stores SET status = 'failed', last_error = \(recorded), updated_at = now()
                        WHERE id = \(job.storeID) AND status = 'provisioning'
                        """)
                }
            ),
            JobDefinition(
                kind: StorePlans.deleteKind,
                steps: [uninstallStep(), deleteNamespaceStep(), waitGoneStep(), finalizeDeleteStep()],
                onFailed: { connection, job, message in
                    try await connection.query("""
                        UPDATE stores SET last_error = \(message), updated_at = now() WHERE id = \(job.storeID)
                        """)
                }
            ),
        ]
    }
}

/// Maps Kubernetes errors onto the engine's retry decisions, keeping the server's message and Retry-After.
extension KubeError: ClassifiedError {
    public var disposition: FailureDisposition {
        isRetryable ? .retryable(minimumDelay: retryAfter) : .permanent
    }
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

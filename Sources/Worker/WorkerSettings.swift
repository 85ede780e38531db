import Foundation
import Jobs
import Platform
import Provisioning
import ServiceRuntime

/// Everything the worker reads from its environment, validated before anything starts.
struct WorkerSettings: Sendable {
    var engine: JobWorkerSettings
    var keys: RedisKeys
    var backends: Backends.Settings
    var logging: LoggingSettings
    var provisioning: ProvisioningSettings
    var httpHost: String
    var httpPort: Int
    var kubeContext: String?

    init(from reader: ConfigurationReader) throws(ConfigurationError) {
        logging = try LoggingSettings(from: reader)
        let host = ProcessInfo.processInfo.hostName
        engine = JobWorkerSettings(
            workerID: reader.string("WORKER_ID", default: "\(host)-\(getpid())"),
            concurrency: try reader.int("WORKER_CONCURRENCY", default: 4, range: 1...256)
        )
        engine.shutdownGrace = try reader.seconds("WORKER_SHUTDOWN_GRACE", default: 20, range: 0...3600)
        // What the maintenance leader prunes (docs/operations.md, "Retention"): ages such as 30d or 12h.
        let ages: ClosedRange<Double> = 60...(3650 * 86_400)
        engine.retention.jobs = try reader.seconds("RETENTION_JOBS", default: engine.retention.jobs, range: ages)
        // The platform's own rows go with the engine's pruning, as rules it hands the engine.
        var platform = PlatformRetention()
        platform.deletedStores = try reader.seconds("RETENTION_DELETED_STORES", default: platform.deletedStores, range: ages)
        platform.auditEvents = try reader.seconds("RETENTION_AUDIT_EVENTS", default: platform.auditEvents, range: ages)
        platform.revokedTokens = try reader.seconds("RETENTION_REVOKED_TOKENS", default: platform.revokedTokens, range: ages)
        engine.retention.rules = platform.rules
        keys = RedisKeys(prefix: reader.string("REDIS_KEY_PREFIX", default: "storefleet"))
        backends = try Backends.Settings(from: reader, applicationName: "storefleet-worker")
        provisioning = try ProvisioningSettings(from: reader)
        kubeContext = reader.raw("KUBE_CONTEXT")
        httpHost = reader.string("WORKER_HTTP_HOST", default: "127.0.0.1")
        httpPort = try reader.int("WORKER_HTTP_PORT", default: 9090, range: 0...65535)
    }
}

import Foundation
import Hummingbird
import Jobs
import Platform
import KubeClient
import Logging
import Provisioning
import ServiceLifecycle
import ServiceRuntime
import TracingBootstrap

await ProcessEntry.run("storefleet-worker") {
    let settings = try WorkerSettings(from: ConfigurationReader())
    let environment = ProcessInfo.processInfo.environment
    let tracing = TracingBootstrap.requested(environment)
    settings.logging.bootstrap(metadataProvider: tracing ? TracingBootstrap.loggingMetadataProvider : nil)
    var logger = Logger(label: "storefleet.worker")
    logger[metadataKey: "worker"] = "\(settings.engine.workerID)"
    let tracer = try tracing
        ? TracingBootstrap.start(serviceName: "storefleet-worker", instanceID: settings.engine.workerID, environment: environment, logger: logger) : nil
    // The charts and helm are configuration too: checked before anything is connected to.
    try await settings.provisioning.checkTools()
    // The cluster is configuration too: without one the worker cannot do its job, so it stops here.
    let cluster: KubeConfiguration
    do {
        cluster = try KubeConfiguration.load(context: settings.kubeContext)
    } catch {
        throw ConfigurationError(variable: "KUBECONFIG", problem: "\(error)")
    }
    let backends = try await Backends.start(settings.backends, logger: logger)
    var provisioner = Provisioner(
        kube: KubeClient(configuration: cluster), postgres: backends.postgres, settings: settings.provisioning,
        kubeconfig: cluster.kubeconfigPath, kubeContext: settings.kubeContext
    )
    provisioner.queue = JobQueue(postgres: backends.postgres, redis: backends.redis, keys: settings.keys, logger: logger,
                                 cancelHooks: StoreJobHooks.onCancelled)
    logger.info("cluster configured", metadata: ["server": "\(cluster.server)", "from": "\(cluster.source)"])

    let httpLogger = logger
    let metrics = JobMetrics()
    let worker = JobWorker(
        settings: settings.engine, postgres: backends.postgres, redis: backends.redis, keys: settings.keys,
        definitions: provisioner.definitions(), logger: logger, metrics: metrics
    )
    let http = Application(
        router: WorkerHTTP.router(worker: worker, backends: backends, metrics: metrics, kube: provisioner.kube.metrics),
        configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: "storefleet-worker"),
        onServerRunning: { channel in
            httpLogger.info("worker HTTP port open", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        },
        logger: logger
    )
    let group = ServiceGroup(
        configuration: .init(
            // The tracer first: started first and stopped last, so the last jobs' spans are flushed.
            services: (tracer.map { [$0] } ?? []) + [
                JobWorkerService(worker: worker, logger: logger), http,
                SetupEgressService(refresher: SetupEgressRefresher(
                    provisioner: provisioner, interval: .seconds(settings.provisioning.setupEgressRefresh), logger: logger
                )),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
        )
    )
    try await group.run()
    await backends.shutdown()
    logger.info("worker stopped")
}

/// Runs the job engine inside the service group: SIGTERM starts its graceful shutdown.
struct JobWorkerService: Service {
    let worker: JobWorker
    let logger: Logger

    func run() async throws {
        // Logged from inside the service group, so that signal handlers are in place when it appears.
        logger.info("worker ready", metadata: ["concurrency": "\(worker.settings.concurrency)"])
        await withGracefulShutdownHandler {
            await worker.run()
        } onGracefulShutdown: {
            worker.shutdown()
        }
    }
}

/// Keeps the store namespaces' setup egress policies on the API server's current addresses; stops with
/// the worker.
struct SetupEgressService: Service {
    let refresher: SetupEgressRefresher

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await refresher.run()
        }
    }
}

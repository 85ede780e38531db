import Jobs
import KubeClient
import Logging
import Provisioning
import ServiceLifecycle
import ServiceRuntime

await ProcessEntry.run("storefleet-worker") {
    let settings = try WorkerSettings(from: ConfigurationReader())
    settings.logging.bootstrap()
    var logger = Logger(label: "storefleet.worker")
    logger[metadataKey: "worker"] = "\(settings.engine.workerID)"
    let backends = try await Backends.start(settings.backends, logger: logger)

    // The store pipelines (create and delete) register here once they exist; until then the engine runs
    // and takes part in maintenance (reaping, sweeping) but knows no job kinds.
    let worker = JobWorker(
        settings: settings.engine, postgres: backends.postgres, redis: backends.redis, keys: settings.keys,
        definitions: [], logger: logger
    )
    let group = ServiceGroup(
        configuration: .init(
            services: [JobWorkerService(worker: worker, logger: logger)],
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

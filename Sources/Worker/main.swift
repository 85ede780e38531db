import Jobs
import Logging
import ServiceLifecycle
import ServiceRuntime

await ProcessEntry.run("storefleet-worker") {
    let settings = try WorkerSettings(from: ConfigurationReader())
    settings.logging.bootstrap()
    var logger = Logger(label: "storefleet.worker")
    logger[metadataKey: "worker"] = "\(settings.workerID)"
    let backends = try await Backends.start(settings.backends, logger: logger)

    let idle = IdleUntilShutdown(logger: logger, concurrency: settings.concurrency)
    let group = ServiceGroup(
        configuration: .init(services: [idle], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    )
    try await group.run()
    await backends.shutdown()
    logger.info("worker stopped")
}

/// Keeps the process alive until a shutdown signal.
struct IdleUntilShutdown: Service {
    let logger: Logger
    let concurrency: Int
    func run() async throws {
        // Logged from inside the service group, so that signal handlers are in place when it appears.
        logger.info("worker ready", metadata: ["concurrency": "\(concurrency)"])
        try? await gracefulShutdown()
    }
}

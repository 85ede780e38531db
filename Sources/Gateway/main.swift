import GatewayKit
import Hummingbird
import Jobs
import Logging
import ServiceLifecycle
import ServiceRuntime

await ProcessEntry.run("storefleet-gateway") {
    let settings = try GatewaySettings(from: ConfigurationReader())
    settings.logging.bootstrap()
    let logger = Logger(label: "storefleet.gateway")
    let backends = try await Backends.start(settings.backends, logger: logger)

    let gateway = Gateway(postgres: backends.postgres, redis: backends.redis, settings: settings.api, logger: logger)
    try await gateway.bootstrapAdmin()
    let app = Application(
        router: gateway.buildRouter(),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "storefleet-gateway"),
        onServerRunning: { channel in
            logger.info("gateway ready", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        },
        logger: logger
    )
    // On SIGTERM the server stops accepting, lets in-flight requests finish and ends event streams
    // (they watch for graceful shutdown), then the backends close.
    let group = ServiceGroup(
        configuration: .init(services: [app, GatewayMaintenance(gateway: gateway)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    )
    try await group.run()
    await backends.shutdown()
    logger.info("gateway stopped")
}

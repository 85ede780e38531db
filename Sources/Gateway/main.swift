import Foundation
import GatewayKit
import Hummingbird
import Jobs
import Platform
import KubeClient
import Logging
import ServiceLifecycle
import ServiceRuntime
import TracingBootstrap

await ProcessEntry.run("storefleet-gateway") {
    let settings = try GatewaySettings(from: ConfigurationReader())
    let environment = ProcessInfo.processInfo.environment
    let tracing = TracingBootstrap.requested(environment)
    settings.logging.bootstrap(metadataProvider: tracing ? TracingBootstrap.loggingMetadataProvider : nil)
    let logger = Logger(label: "storefleet.gateway")
    // Before anything serves: the request spans and the jobs' trace context need the tracer in place.
    let tracer = try tracing ? TracingBootstrap.start(serviceName: "storefleet-gateway", instanceID: nil, environment: environment, logger: logger) : nil
    let backends = try await Backends.start(settings.backends, logger: logger)

    // The credentials endpoint reads store Secrets; without a cluster the rest of the API still works.
    var kube: KubeClient?
    do {
        let cluster = try KubeConfiguration.load(context: ConfigurationReader().raw("KUBE_CONTEXT"))
        kube = KubeClient(configuration: cluster)
        logger.info("cluster configured for store credentials", metadata: ["server": "\(cluster.server)"])
    } catch {
        logger.warning("no cluster configured; GET /api/stores/:id/credentials answers 503", metadata: ["reason": "\(error)"])
    }
    let gateway = Gateway(postgres: backends.postgres, redis: backends.redis, settings: settings.api, logger: logger, kube: kube)
    try await gateway.bootstrapAdmin()
    let app = Application(
        router: gateway.buildRouter(metrics: settings.metricsPort == nil),
        server: Gateway.httpServer(settings.edge, logger: logger, metrics: gateway.metrics),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "storefleet-gateway"),
        onServerRunning: { channel in
            logger.info("gateway ready", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        },
        logger: logger
    )
    var services: [any Service] = [app, GatewayMaintenance(gateway: gateway)]
    // First in the group, so the last to stop: spans of the final requests are flushed.
    if let tracer { services.insert(tracer, at: 0) }
    if let metricsPort = settings.metricsPort {
        services.append(Application(
            router: gateway.buildMetricsRouter(),
            configuration: .init(address: .hostname(settings.host, port: metricsPort), serverName: "storefleet-gateway-metrics"),
            onServerRunning: { channel in
                logger.info("metrics ready", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            },
            logger: logger
        ))
    }
    // On SIGTERM the server stops accepting, lets in-flight requests finish and ends event streams
    // (they watch for graceful shutdown), then the backends close.
    let group = ServiceGroup(
        configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    )
    try await group.run()
    await backends.shutdown()
    logger.info("gateway stopped")
}

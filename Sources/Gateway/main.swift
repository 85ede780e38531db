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
    defer { Task { await backends.shutdown() } }

    let router = Router()
    router.get("/healthz") { _, _ in "ok" }
    router.get("/readyz") { _, _ -> Response in
        let problems = await backends.check()
        guard problems.isEmpty else {
            let text = problems.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
            return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
        }
        return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
    }

    let app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "storefleet-gateway"),
        onServerRunning: { channel in
            logger.info("gateway ready", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        },
        logger: logger
    )
    let group = ServiceGroup(
        configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    )
    try await group.run()
    await backends.shutdown()
    logger.info("gateway stopped")
}

import Jobs
import ServiceRuntime

/// Everything the gateway reads from its environment, validated before anything starts.
struct GatewaySettings: Sendable {
    var host: String
    var port: Int
    var backends: Backends.Settings
    var logging: LoggingSettings

    init(from reader: ConfigurationReader) throws(ConfigurationError) {
        logging = try LoggingSettings(from: reader)
        host = reader.string("GATEWAY_HOST", default: "127.0.0.1")
        port = try reader.int("GATEWAY_PORT", default: 8080, range: 0...65535)
        backends = try Backends.Settings(from: reader, applicationName: "storefleet-gateway")
    }
}

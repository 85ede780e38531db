import Logging
import OTel
import ServiceLifecycle
import ServiceRuntime
import Tracing

/// Turns distributed tracing on in an executable when the standard `OTEL_*` variables ask for it, with
/// swift-otel's OTLP exporter (HTTP; `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf` or `http/json`). Only
/// traces: metrics stay on `/metrics` and logs on standard output, where they were. Off unless
/// configured: nothing is bootstrapped, the tracer stays the no-op one, no background task runs, and
/// the code that makes spans skips them (`Telemetry.enabled`).
public enum TracingBootstrap {
    /// Whether the environment asks for traces: an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or an explicit `OTEL_TRACES_EXPORTER` other than `none`,
    /// and not `OTEL_SDK_DISABLED=true`.
    public static func requested(_ environment: [String: String]) -> Bool {
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" { return false }
        if let exporter = environment["OTEL_TRACES_EXPORTER"]?.lowercased(), !exporter.isEmpty {
            return exporter != "none"
        }
        return [environment["OTEL_EXPORTER_OTLP_ENDPOINT"], environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]]
            .contains { !($0 ?? "").isEmpty }
    }

    /// `trace_id` and `span_id` of the current span in every log line written inside one.
    public static var loggingMetadataProvider: Logger.MetadataProvider {
        OTel.makeLoggingMetadataProvider()
    }

    /// Starts tracing for this process: `serviceName` unless `OTEL_SERVICE_NAME` says otherwise, and
    /// `service.instance.id` (a worker's ID) among the resource attributes. Returns the exporter's
    /// service, to run beside the process's own: it sends spans in batches and flushes them on shutdown.
    public static func start(serviceName: String, instanceID: String?, environment: [String: String], logger: Logger) throws -> any Service {
        var configuration = OTel.Configuration.default
        configuration.serviceName = environment["OTEL_SERVICE_NAME"] ?? serviceName
        if let instanceID { configuration.resourceAttributes["service.instance.id"] = instanceID }
        configuration.traces.enabled = true
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        // The exporter's own complaints (a collector that is down) go to our log, at warning and above.
        configuration.diagnosticLogger = .custom(logger)
        configuration.diagnosticLogLevel = .warning
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        Telemetry.markEnabled()
        logger.info("tracing on", metadata: [
            "service": "\(configuration.serviceName)",
            "endpoint": "\(environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? environment["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? "default")",
        ])
        return backend.service
    }
}

import Tracing

/// Distributed tracing as the libraries see it: whether it is on, and the W3C `traceparent` that
/// carries a trace across a process boundary the job engine makes (a job written by the gateway and
/// run by a worker). The exporter itself is set up by the executables (`TracingBootstrap`); when it is
/// not, `InstrumentationSystem` keeps its no-op tracer and `Telemetry.enabled` stays false, so that
/// code on hot paths can skip span work altogether.
public enum Telemetry {
    /// Set once by `TracingBootstrap` before the process starts serving, read afterwards.
    nonisolated(unsafe) public private(set) static var enabled = false

    /// For `TracingBootstrap` only, at start-up.
    public static func markEnabled() { enabled = true }

    /// The current trace context as a `traceparent` value (W3C Trace Context), or nil when no trace
    /// is being recorded.
    public static func currentTraceparent() -> String? {
        guard enabled, let context = ServiceContext.current else { return nil }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        return carrier["traceparent"]
    }

    /// The context a `traceparent` describes, to start spans under it (a worker continuing the
    /// gateway's trace); the top-level context when there is none.
    public static func context(traceparent: String?) -> ServiceContext {
        var context = ServiceContext.topLevel
        if enabled, let traceparent {
            InstrumentationSystem.instrument.extract(["traceparent": traceparent], into: &context, using: DictionaryExtractor())
        }
        return context
    }

    struct DictionaryInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    struct DictionaryExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }
}

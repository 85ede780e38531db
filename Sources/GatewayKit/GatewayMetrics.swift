import Foundation
import ServiceRuntime

/// Request counters and latency histograms per route, rendered in the Prometheus text format (the same
/// hand-rolled approach as `JobMetrics`: a few series do not need a metrics backend).
public final class GatewayMetrics: Sendable {
    static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct State {
        var requests: [String: Int] = [:]
        var latency: [String: Histogram] = [:]
    }

    private let state = LockedState(State())

    public init() {}

    func request(method: String, route: String, status: Int, seconds: Double) {
        let route = Self.escape(route)
        state.withLock { state in
            state.requests["method=\"\(method)\",route=\"\(route)\",status=\"\(status)\"", default: 0] += 1
            let key = "method=\"\(method)\",route=\"\(route)\""
            state.latency[key, default: Histogram(bounds: Self.bounds)].observe(seconds)
        }
    }

    func render() -> String {
        let snapshot = state.withLock { $0 }
        var out = "# HELP storefleet_http_requests_total HTTP requests by method, route and status.\n"
        out += "# TYPE storefleet_http_requests_total counter\n"
        for (labels, count) in snapshot.requests.sorted(by: { $0.key < $1.key }) {
            out += "storefleet_http_requests_total{\(labels)} \(count)\n"
        }
        out += "# HELP storefleet_http_request_duration_seconds HTTP request latency by method and route.\n"
        out += "# TYPE storefleet_http_request_duration_seconds histogram\n"
        for (labels, histogram) in snapshot.latency.sorted(by: { $0.key < $1.key }) {
            out += histogram.render("storefleet_http_request_duration_seconds", labels: labels)
        }
        return out
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}

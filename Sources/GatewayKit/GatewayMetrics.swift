import Foundation
import ServiceRuntime

/// Request counters and latency histograms per route, rendered in the Prometheus text format (the same
/// hand-rolled approach as `JobMetrics`: a few series do not need a metrics backend).
public final class GatewayMetrics: Sendable {
    static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// Label values as recorded; escaped and formatted only when rendered, which is rare next to requests.
    private struct RouteKey: Hashable {
        let method: String
        let route: String
    }

    private struct RequestKey: Hashable {
        let route: RouteKey
        let status: Int
    }

    private struct State {
        var requests: [RequestKey: Int] = [:]
        var latency: [RouteKey: Histogram] = [:]
        var clientAborts: [RouteKey: Int] = [:]
        var edgeRefusals: [String: Int] = [:]
    }

    private let state = LockedState(State())

    public init() {}

    func request(method: String, route: String, status: Int, seconds: Double) {
        let key = RouteKey(method: method, route: route)
        state.withLock { state in
            state.requests[RequestKey(route: key, status: status), default: 0] += 1
            state.latency[key, default: Histogram(bounds: Self.bounds)].observe(seconds)
        }
    }

    /// A client that left while its response was being written (an event stream's reader gone).
    func clientAborted(method: String, route: String) {
        state.withLock { $0.clientAborts[RouteKey(method: method, route: route), default: 0] += 1 }
    }

    /// A connection answered or closed before any route saw its request (ConnectionGuard): reason is
    /// the problem type's slug (header-timeout, headers-too-large, malformed) or write-stall.
    func edgeRefused(_ reason: String) {
        state.withLock { $0.edgeRefusals[reason, default: 0] += 1 }
    }

    func render() -> String {
        let snapshot = state.withLock { $0 }
        var out = "# HELP storefleet_http_requests_total HTTP requests by method, route and status.\n"
        out += "# TYPE storefleet_http_requests_total counter\n"
        let requests = snapshot.requests.map { (Self.labels($0.key.route) + ",status=\"\($0.key.status)\"", $0.value) }
        for (labels, count) in requests.sorted(by: { $0.0 < $1.0 }) {
            out += "storefleet_http_requests_total{\(labels)} \(count)\n"
        }
        out += "# HELP storefleet_http_request_duration_seconds HTTP request latency by method and route.\n"
        out += "# TYPE storefleet_http_request_duration_seconds histogram\n"
        for (labels, histogram) in snapshot.latency.map({ (Self.labels($0.key), $0.value) }).sorted(by: { $0.0 < $1.0 }) {
            out += histogram.render("storefleet_http_request_duration_seconds", labels: labels)
        }
        out += "# HELP storefleet_http_client_aborts_total Responses whose client left before they were fully written, by method and route.\n"
        out += "# TYPE storefleet_http_client_aborts_total counter\n"
        for (labels, count) in snapshot.clientAborts.map({ (Self.labels($0.key), $0.value) }).sorted(by: { $0.0 < $1.0 }) {
            out += "storefleet_http_client_aborts_total{\(labels)} \(count)\n"
        }
        out += "# HELP storefleet_http_edge_refusals_total Requests answered or connections closed before routing, by reason.\n"
        out += "# TYPE storefleet_http_edge_refusals_total counter\n"
        for (reason, count) in snapshot.edgeRefusals.sorted(by: { $0.key < $1.key }) {
            out += "storefleet_http_edge_refusals_total{reason=\"\(Self.escape(reason))\"} \(count)\n"
        }
        return out
    }

    private static func labels(_ key: RouteKey) -> String {
        "method=\"\(escape(key.method))\",route=\"\(escape(key.route))\""
    }

    static func escape(_ value: String) -> String { prometheusLabelValue(value) }
}

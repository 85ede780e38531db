import Foundation
import ServiceRuntime

/// Kubernetes API calls of one client, for `/metrics`: each attempt counted by verb, resource and
/// answer, and timed by verb and resource. Namespaces and names never become labels (one store is one
/// namespace: unbounded); the resource is the path's plural ("pods", "namespaces", "deployments").
public final class KubeMetrics: Sendable {
    private struct State {
        var calls: [String: Int] = [:]
        var durations: [String: Histogram] = [:]
    }

    static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    private let state = LockedState(State())

    public init() {}

    /// `code`: the HTTP status, or "timeout"/"transport" when no answer came.
    func record(method: String, path: String, query: [(String, String)], code: String, seconds: Double) {
        let call = Self.describe(method: method, path: path, query: query)
        let labels = "verb=\"\(call.verb)\",resource=\"\(call.resource)\""
        state.withLock { state in
            state.calls["\(labels),code=\"\(code)\"", default: 0] += 1
            state.durations[labels, default: Histogram(bounds: Self.bounds)].observe(seconds)
        }
    }

    public func render() -> String {
        let state = state.withLock { $0 }
        var out = "# HELP storefleet_kube_requests_total Kubernetes API calls (each attempt), by verb, resource and HTTP status (timeout or transport: no answer).\n"
        out += "# TYPE storefleet_kube_requests_total counter\n"
        for (labels, count) in state.calls.sorted(by: { $0.key < $1.key }) { out += "storefleet_kube_requests_total{\(labels)} \(count)\n" }
        out += "# HELP storefleet_kube_request_duration_seconds Kubernetes API call latency, by verb and resource.\n"
        out += "# TYPE storefleet_kube_request_duration_seconds histogram\n"
        for (labels, histogram) in state.durations.sorted(by: { $0.key < $1.key }) {
            out += histogram.render("storefleet_kube_request_duration_seconds", labels: labels)
        }
        return out
    }

    /// The namespace a path is in (`/api/v1/namespaces/<ns>/…`), or the namespace a path names
    /// (`/api/v1/namespaces/<ns>`); nil for other cluster-scoped paths.
    public static func namespace(of path: String) -> String? {
        var parts = path.split(separator: "/").map(String.init)
        if parts.first == "api", parts.count >= 2 { parts.removeFirst(2) }
        else if parts.first == "apis", parts.count >= 3 { parts.removeFirst(3) }
        else { return nil }
        guard parts.first == "namespaces", parts.count >= 2 else { return nil }
        return parts[1]
    }

    /// The Kubernetes verb and resource of a call, as the API server's audit log names them:
    /// GET of a collection is `list` (`watch` with watch=true), PATCH is `patch`, and so on; the
    /// resource is the plural after the namespace (or after the version for cluster-scoped
    /// objects), with a subresource joined by "/" ("pods/log"). Anything else is "other".
    public static func describe(method: String, path: String, query: [(String, String)] = []) -> (verb: String, resource: String) {
        var parts = path.split(separator: "/").map(String.init)
        // /api/v1/… or /apis/group/version/…
        if parts.first == "api", parts.count >= 2 { parts.removeFirst(2) }
        else if parts.first == "apis", parts.count >= 3 { parts.removeFirst(3) }
        else { return (method.lowercased(), "other") }
        var resource: String
        var named: Bool
        if parts.first == "namespaces", parts.count >= 3 {
            // namespaces/<ns>/<plural>[/<name>[/<sub>]]
            resource = parts[2]
            named = parts.count >= 4
            if parts.count >= 5 { resource += "/\(parts[4])" }
        } else if let first = parts.first {
            resource = first
            named = parts.count >= 2
            if parts.count >= 3 { resource += "/\(parts[2])" }
        } else {
            return (method.lowercased(), "other")
        }
        let verb: String
        switch method {
        case "GET":
            if query.contains(where: { $0.0 == "watch" && ($0.1 == "true" || $0.1 == "1") }) { verb = "watch" }
            else { verb = named ? "get" : "list" }
        case "POST": verb = "create"
        case "PUT": verb = "update"
        case "PATCH": verb = "patch"
        case "DELETE": verb = named ? "delete" : "deletecollection"
        default: verb = method.lowercased()
        }
        // A plural is lowercase letters; anything else (a crafted path) is not worth a series.
        if !resource.allSatisfy({ $0.isLowercase || $0 == "/" }) { resource = "other" }
        return (verb, resource)
    }
}

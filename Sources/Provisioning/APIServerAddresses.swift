import Foundation
import KubeClient
import ServiceRuntime

/// Where the cluster's API server answers, as a pod sees it: the `kubernetes` Service's cluster IPs and
/// the addresses of its EndpointSlice in `default` (the API server keeps both up to date itself), with
/// their ports. The setup Job's egress NetworkPolicy admits exactly these, so a tenant plugin that runs
/// during setup reaches the API server and nothing else on a private address.
///
/// Both are listed because NetworkPolicy implementations differ on whether a policy sees a Service's
/// cluster IP or the endpoint it is translated to (the API documents it as undefined).
public struct APIServerAddresses: Sendable, Equatable {
    /// Sorted, each once.
    public let ips: [String]
    /// Sorted, each once.
    public let ports: [Int]

    public init(ips: [String], ports: [Int]) {
        self.ips = Array(Set(ips)).sorted()
        self.ports = Array(Set(ports)).sorted()
    }

    /// One address per block: /32 for IPv4, /128 for IPv6.
    var cidrs: [String] { ips.map { $0.contains(":") ? "\($0)/128" : "\($0)/32" } }

    /// Written on each store namespace once its policy admits these addresses, so one list of the
    /// namespaces finds the ones a refresh has not reached yet.
    public var fingerprint: String {
        ips.joined(separator: ",") + ";" + ports.map(String.init).joined(separator: ",")
    }

    static let servicePath = "/api/v1/namespaces/default/services/kubernetes"
    static let sliceListPath = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"

    /// Reads both from the cluster. The worker may read only these two objects in `default` (the
    /// platform chart's `<release>-apiserver-endpoints` Role, by name).
    public static func read(_ kube: KubeClient) async throws(KubeError) -> APIServerAddresses {
        let service = try await kube.get(servicePath)
        let slice = try await kube.get(sliceListPath + "/kubernetes")
        var ips: [String] = []
        if case .array(let clusterIPs)? = service.at("spec", "clusterIPs") {
            ips += clusterIPs.compactMap(\.string)
        } else if let clusterIP = service.at("spec", "clusterIP")?.string {
            ips.append(clusterIP)
        }
        var ports: [Int] = []
        if case .array(let servicePorts)? = service.at("spec", "ports") {
            ports += servicePorts.compactMap { $0["port"]?.int }
        }
        if case .array(let endpoints)? = slice["endpoints"] {
            for endpoint in endpoints where endpoint.at("conditions", "ready") != .bool(false) {
                if case .array(let addresses)? = endpoint["addresses"] { ips += addresses.compactMap(\.string) }
            }
        }
        if case .array(let slicePorts)? = slice["ports"] {
            ports += slicePorts.compactMap { $0["port"]?.int }
        }
        ips = ips.filter { !$0.isEmpty && $0 != "None" }
        guard !ips.isEmpty, !ports.isEmpty else {
            throw KubeError(reason: .invalid, code: 0, message: "the kubernetes Service and EndpointSlice in default name no address or port",
                            request: "GET \(servicePath)")
        }
        return APIServerAddresses(ips: ips, ports: ports)
    }
}

/// The last addresses read, shared by every job of this worker and refreshed by `SetupEgressRefresher`:
/// a guardrails step reads the cluster only when they are older than `maxAge`.
public final class APIServerAddressCache: Sendable {
    private let state = LockedState<(addresses: APIServerAddresses, at: ContinuousClock.Instant)?>(nil)
    let maxAge: Duration

    public init(maxAge: Duration = .seconds(30)) {
        self.maxAge = maxAge
    }

    func current(_ kube: KubeClient) async throws(KubeError) -> APIServerAddresses {
        if let cached = state.withLock({ $0 }), ContinuousClock.now - cached.at < maxAge { return cached.addresses }
        return try await refresh(kube)
    }

    @discardableResult
    func refresh(_ kube: KubeClient) async throws(KubeError) -> APIServerAddresses {
        let addresses = try await APIServerAddresses.read(kube)
        state.withLock { $0 = (addresses, ContinuousClock.now) }
        return addresses
    }
}

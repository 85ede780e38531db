import Foundation
import Platform
import Jobs
import ServiceRuntime

/// Where stores go and how they are sized; from the worker's environment.
public struct ProvisioningSettings: Sendable {
    /// What `HELM_BIN` names: the real helm, or helm-sim (the stand-in built with kube-sim) for a simulated cluster.
    public var helmBinary: String
    public var chartsDirectory: String
    /// Stores get `<name>.<domain>`.
    public var storeDomain: String
    public var ingressClass: String
    /// Namespace of the ingress controller, allowed in by each store's NetworkPolicy.
    public var ingressNamespace: String
    /// Empty: the cluster's default storage class.
    public var storageClass: String
    public var tls: Bool
    public var clusterIssuer: String
    /// What a failed create leaves behind: `keep` (the namespace, for inspection) or `delete` (it).
    public var failedStorePolicy: String
    /// Limits of the release and readiness steps.
    public var releaseTimeout: Double
    public var readinessTimeout: Double
    /// Whether readiness ends by asking the store's own API for products (through the API server's
    /// service proxy). Off only for clusters whose network policy engine blocks the API server.
    public var storefrontCheck: Bool = true
    /// How often each worker re-reads the API server's addresses and brings the store namespaces'
    /// setup egress policies up to date (SetupEgressRefresher).
    public var setupEgressRefresh: Double = 30
    /// CIDRs the store NetworkPolicies admit besides the ingress controller, for clusters where the API
    /// server's service proxy reaches pods from addresses a deny-all policy would block (multi-node
    /// control planes under Calico or Cilium).
    public var apiServerCIDRs: [String] = []
    /// The plans stores are sized by (PLANS_FILE, or the built-in small, medium and large).
    public var plans: PlanCatalog
    /// How long an update's readiness may take before the store is rolled back to its last good
    /// revision; shorter than a create's, since a store that sold before is down or degraded meanwhile.
    public var updateReadinessTimeout: Double = 300
    /// RoleBindings the namespace step creates in each store namespace, from
    /// `STORE_ROLE_BINDINGS=<cluster role>=<namespace>/<service account>,...`: the worker's own rights
    /// there (it holds almost none cluster-wide) and the gateway's read of store-credentials. Empty for
    /// a worker whose identity is already allowed everywhere (a developer's admin kubeconfig).
    public var storeRoleBindings: [StoreRoleBinding] = []

    public struct StoreRoleBinding: Sendable, Equatable {
        public var clusterRole: String
        public var namespace: String
        public var serviceAccount: String
    }

    /// Per-engine guardrails and chart values of each plan (`PlanCatalog`).
    public typealias Quota = PlanQuota

    public init(from reader: ConfigurationReader) throws(ConfigurationError) {
        helmBinary = reader.string("HELM_BIN", default: "helm")
        chartsDirectory = reader.string("CHARTS_DIR", default: "charts")
        storeDomain = reader.string("STORE_DOMAIN", default: "127.0.0.1.nip.io")
        ingressClass = reader.string("INGRESS_CLASS", default: "nginx")
        ingressNamespace = reader.string("INGRESS_NAMESPACE", default: "ingress-nginx")
        storageClass = reader.string("STORAGE_CLASS", default: "")
        tls = try reader.bool("STORE_TLS", default: false)
        clusterIssuer = reader.string("TLS_CLUSTER_ISSUER", default: "")
        failedStorePolicy = try reader.string("FAILED_STORE_POLICY", default: "keep", oneOf: ["keep", "delete"])
        releaseTimeout = try reader.seconds("RELEASE_TIMEOUT", default: 600, range: 10...7200)
        readinessTimeout = try reader.seconds("READINESS_TIMEOUT", default: 900, range: 5...7200)
        storefrontCheck = try reader.bool("STOREFRONT_CHECK", default: true)
        setupEgressRefresh = try reader.seconds("SETUP_EGRESS_REFRESH", default: 30, range: 1...3600)
        apiServerCIDRs = reader.string("API_SERVER_CIDRS", default: "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for cidr in apiServerCIDRs where !Self.isCIDR(cidr) {
            throw ConfigurationError(variable: "API_SERVER_CIDRS", problem: "\(cidr) is not a CIDR such as 10.0.0.0/24")
        }
        for entry in reader.string("STORE_ROLE_BINDINGS", default: "").split(separator: ",") {
            let parts = entry.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            let subject = parts.count == 2 ? parts[1].split(separator: "/", omittingEmptySubsequences: false).map(String.init) : []
            guard parts.count == 2, subject.count == 2, ([parts[0]] + subject).allSatisfy(Self.isDNSName) else {
                throw ConfigurationError(variable: "STORE_ROLE_BINDINGS", problem: "expected <cluster role>=<namespace>/<service account>, got \(entry)")
            }
            storeRoleBindings.append(StoreRoleBinding(clusterRole: parts[0], namespace: subject[0], serviceAccount: subject[1]))
        }
        plans = try PlanCatalog.load(from: reader)
        updateReadinessTimeout = try reader.seconds("UPDATE_READINESS_TIMEOUT", default: 300, range: 5...7200)
    }

    /// A Kubernetes object name (RFC 1123 subdomain, as roles and service accounts are named).
    static func isDNSName(_ text: String) -> Bool {
        let alphanumeric = { (c: Character) in c.isASCII && (c.isLowercase || c.isNumber) }
        return !text.isEmpty && text.count <= 253 && alphanumeric(text.first!) && alphanumeric(text.last!)
            && text.allSatisfy { alphanumeric($0) || $0 == "-" || $0 == "." }
    }

    static func isCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let bits = Int(parts[1]) else { return false }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, (0...32).contains(bits) { return octets.allSatisfy { Int($0).map { (0...255).contains($0) } ?? false } }
        return parts[0].contains(":") && (0...128).contains(bits)
    }

    public func host(for store: String) -> String { "\(store).\(storeDomain)" }

    public func urls(for store: StoreRecord) -> (storefront: String, admin: String) {
        let base = "\(tls ? "https" : "http")://\(host(for: store.name))"
        return (base + "/", base + (store.engine == "medusa" ? "/app" : "/wp-admin/"))
    }
}

extension ProvisioningSettings {
    /// What `plan` gives a store of `engine`. The gateway refused plans it does not know, so a refusal
    /// here means the worker reads another plans file than the gateway: no retry can change that.
    public func plan(_ name: String, engine: String) throws -> EnginePlan {
        guard let found = plans.plans[name]?.engines[engine] else {
            throw StepFailure.permanent(
                plans.plans[name] == nil
                    ? "this worker knows no plan \(name) (it knows \(plans.plans.keys.sorted().joined(separator: ", "))); give the worker the gateway's PLANS_FILE, then retry the store"
                    : "plan \(name) offers no \(engine) on this worker; give the worker the gateway's PLANS_FILE, then retry the store")
        }
        return found
    }
}

import Foundation
import ServiceRuntime

/// Where stores go and how they are sized; from the worker's environment.
public struct ProvisioningSettings: Sendable {
    /// What `HELM_BIN` names: the real helm, or scripts/helm-sim for a simulated cluster.
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
    public var quotas: [String: Quota]

    /// Per-engine guardrails. Defaults fit the store charts' defaults with room for one extra setup pod
    /// during an upgrade (charts/README.md has the table).
    public struct Quota: Sendable {
        public var requestsCPU: String
        public var requestsMemory: String
        public var limitsCPU: String
        public var limitsMemory: String
        public var pods: Int
        public var persistentVolumeClaims: Int
        public var storage: String
        public var maxVolumeSize: String
        public var defaultRequestCPU = "100m"
        public var defaultRequestMemory = "128Mi"
        public var defaultLimitCPU = "500m"
        public var defaultLimitMemory = "512Mi"
    }

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
        quotas = [
            "woocommerce": Quota(requestsCPU: "1", requestsMemory: "2Gi", limitsCPU: "4", limitsMemory: "4Gi", pods: 6,
                                 persistentVolumeClaims: 3, storage: "10Gi", maxVolumeSize: "5Gi"),
            "medusa": Quota(requestsCPU: "1500m", requestsMemory: "3Gi", limitsCPU: "5", limitsMemory: "6Gi", pods: 8,
                            persistentVolumeClaims: 2, storage: "10Gi", maxVolumeSize: "5Gi"),
        ]
    }

    public func host(for store: String) -> String { "\(store).\(storeDomain)" }

    public func urls(for store: StoreRecord) -> (storefront: String, admin: String) {
        let base = "\(tls ? "https" : "http")://\(host(for: store.name))"
        return (base + "/", base + (store.engine == "medusa" ? "/app" : "/wp-admin/"))
    }
}

/// The resources the simulator serves: exactly these appear in discovery.
public struct ResourceType: Sendable, Hashable {
    public let group: String
    public let version: String
    public let kind: String
    public let plural: String
    public let namespaced: Bool
    public let verbs: [String]

    /// The short names kubectl accepts (ns, deploy, sts...), as a real server lists them in discovery.
    public var shortNames: [String] {
        switch plural {
        case "namespaces": ["ns"]
        case "resourcequotas": ["quota"]
        case "limitranges": ["limits"]
        case "configmaps": ["cm"]
        case "serviceaccounts": ["sa"]
        case "services": ["svc"]
        case "persistentvolumeclaims": ["pvc"]
        case "pods": ["po"]
        case "events": ["ev"]
        case "deployments": ["deploy"]
        case "statefulsets": ["sts"]
        case "ingresses": ["ing"]
        case "networkpolicies": ["netpol"]
        default: []
        }
    }

    // A type is its group and plural (each is served in one version): every object key hashes and
    // compares its type, and the controllers do that thousands of times a tick.
    public static func == (lhs: ResourceType, rhs: ResourceType) -> Bool {
        lhs.plural == rhs.plural && lhs.group == rhs.group
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(plural)
        hasher.combine(group)
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// The path prefix of the group and version: /api/v1 or /apis/apps/v1.
    public var groupVersionPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }
}

public enum ResourceCatalog {
    static let allVerbs = ["create", "delete", "get", "list", "patch", "update", "watch"]

    public static let types: [ResourceType] = [
        .init(group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false, verbs: allVerbs),
        .init(group: "", version: "v1", kind: "ResourceQuota", plural: "resourcequotas", namespaced: true, verbs: allVerbs),
        .init(group: "", version: "v1", kind: "LimitRange", plural: "limitranges", namespaced: true, verbs: allVerbs),
        .init(group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true, verbs: allVerbs),
        .init(group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true, verbs: allVerbs),
        .init(group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true, verbs: allVerbs),
        .init(group: "", version: "v1", kind: "Service", plural: "services", namespaced: true, verbs: allVerbs),
        .init(group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", namespaced: true, verbs: allVerbs),
        .init(group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, verbs: allVerbs),
        .init(group: "", version: "v1", kind: "Event", plural: "events", namespaced: true, verbs: allVerbs),
        .init(group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true, verbs: allVerbs),
        .init(group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true, verbs: allVerbs),
        .init(group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true, verbs: allVerbs),
        .init(group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice", plural: "endpointslices", namespaced: true, verbs: allVerbs),
        .init(group: "networking.k8s.io", version: "v1", kind: "Ingress", plural: "ingresses", namespaced: true, verbs: allVerbs),
        .init(group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", plural: "networkpolicies", namespaced: true, verbs: allVerbs),
        .init(group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", namespaced: true, verbs: allVerbs),
        .init(group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true, verbs: allVerbs),
        .init(group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false, verbs: allVerbs),
        .init(group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings", namespaced: false, verbs: allVerbs),
        .init(group: "admissionregistration.k8s.io", version: "v1", kind: "ValidatingAdmissionPolicy", plural: "validatingadmissionpolicies",
              namespaced: false, verbs: allVerbs),
        .init(group: "admissionregistration.k8s.io", version: "v1", kind: "ValidatingAdmissionPolicyBinding", plural: "validatingadmissionpolicybindings",
              namespaced: false, verbs: allVerbs),
    ]

    public static func type(group: String, version: String, plural: String) -> ResourceType? {
        types.first { $0.group == group && $0.version == version && $0.plural == plural }
    }

    public static func type(apiVersion: String, kind: String) -> ResourceType? {
        types.first { $0.apiVersion == apiVersion && $0.kind == kind }
    }

    public static var groups: [String] { Array(Set(types.map(\.group).filter { !$0.isEmpty })).sorted() }
}

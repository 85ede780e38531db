import Foundation
import KubeClient
import Yams

/// A rendered chart: its YAML documents as objects, in the order helm installs them, each carrying
/// the label and annotations by which helm recognises its own objects.
struct Manifest {
    let objects: [JSON]

    /// Helm's install order (pkg/release/util/kind_sorter.go); uninstall goes in reverse. Kinds helm
    /// does not list come last, in the order the chart renders them.
    static let installOrder = [
        "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
        "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
        "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
        "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
        "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
        "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
        "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    ]

    init(yaml text: String, release: String, namespace: String) throws(HelmFailure) {
        var documents: [JSON] = []
        do {
            for node in try Yams.compose_all(yaml: text) {
                let object = try Self.json(node)
                if let fields = object.objectValue, !fields.isEmpty { documents.append(object) }
            }
        } catch let failure as HelmFailure {
            throw failure
        } catch {
            throw HelmFailure("unable to build kubernetes objects from release manifest: \(error)")
        }
        let rank = Dictionary(uniqueKeysWithValues: Self.installOrder.enumerated().map { ($1, $0) })
        objects = documents.enumerated()
            .sorted { (rank[$0.element["kind"]?.string ?? ""] ?? rank.count, $0.offset) < (rank[$1.element["kind"]?.string ?? ""] ?? rank.count, $1.offset) }
            .map { _, object in
                var object = object
                var labels = object.at("metadata", "labels")?.objectValue ?? [:]
                labels["app.kubernetes.io/managed-by"] = "Helm"
                object.set(["metadata", "labels"], to: .object(labels))
                var annotations = object.at("metadata", "annotations")?.objectValue ?? [:]
                annotations["meta.helm.sh/release-name"] = .string(release)
                annotations["meta.helm.sh/release-namespace"] = .string(namespace)
                object.set(["metadata", "annotations"], to: .object(annotations))
                return object
            }
    }

    /// YAML to JSON as Kubernetes reads manifests: ints, floats, booleans and nulls by their resolved
    /// tag, every other scalar (timestamps included) as a string.
    static func json(_ node: Node) throws -> JSON {
        switch node {
        case .scalar(let scalar):
            switch node.tag.description {
            case "tag:yaml.org,2002:null": return .null
            case "tag:yaml.org,2002:bool": return node.bool.map(JSON.bool) ?? .string(scalar.string)
            case "tag:yaml.org,2002:int", "tag:yaml.org,2002:float": return node.float.map(JSON.number) ?? .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .mapping(let mapping):
            var fields: [String: JSON] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw HelmFailure("unable to build kubernetes objects from release manifest: a mapping key is not a string") }
                fields[name] = try json(value)
            }
            return .object(fields)
        case .sequence(let sequence):
            return .array(try sequence.map(json))
        case .alias:
            throw HelmFailure("unable to build kubernetes objects from release manifest: YAML aliases are not supported")
        }
    }
}

import Foundation
import KubeClient

/// ValidatingAdmissionPolicies, enforced as the API server enforces them: after authorization, on
/// every create, update, patch, delete and connect (a service proxy request), with the object as it
/// would be stored, the object it replaces, and the request's namespace. The simulator has no CEL of
/// its own: the policies and the request go to an evaluator (`scripts/lib/vap.py serve`, cel-python)
/// set with `setAdmissionEvaluator`. With policies stored and no evaluator, or an evaluator that does
/// not answer, writes are refused, as `failurePolicy: Fail` refuses them.
extension ClusterSimulator {
    static let policies = ResourceCatalog.type(group: "admissionregistration.k8s.io", version: "v1", plural: "validatingadmissionpolicies")!
    static let policyBindings = ResourceCatalog.type(group: "admissionregistration.k8s.io", version: "v1", plural: "validatingadmissionpolicybindings")!

    /// Where policies are evaluated: `http://127.0.0.1:<port>` of `vap.py serve`; nil for none.
    public func setAdmissionEvaluator(_ url: String?) {
        var settings = KubeClientSettings()
        settings.retries = 0
        settings.requestTimeout = 10
        let client = url.map { KubeClient(configuration: KubeConfiguration(server: $0, credentials: .none, source: "admission evaluator"), settings: settings) }
        admissionEvaluator.withLock { $0 = client }
    }

    func admit(_ user: UserInfo, _ attributes: RequestAttributes, contentType: String?, body: Data) async -> APIError? {
        guard attributes.isResourceRequest else { return nil }
        let operation: String
        switch attributes.verb {
        case "create": operation = "CREATE"
        case "update", "patch": operation = "UPDATE"
        case "delete": operation = "DELETE"
        case "get" where attributes.subresource == "proxy": operation = "CONNECT"
        default: return nil
        }
        guard let type = ResourceCatalog.types.first(where: { $0.group == attributes.group && $0.plural == attributes.resource }) else { return nil }
        if let refused = limitRanger(type, attributes, body: body) { return refused }
        if type.kind == "Pod", attributes.verb == "create", let pod = try? JSON(parsing: body),
           let refusal = LimitRanger.refusal(podSpec: pod["spec"] ?? [:], limitRanges: store.all(Controllers.limitRanges).filter { $0.0.namespace == attributes.namespace }.map(\.1)) {
            return APIError.forbidden("pods \"\(pod.at("metadata", "name")?.string ?? attributes.name)\" is forbidden: \(refusal)")
        }
        if type.kind == "Pod", attributes.verb == "create", let pod = try? JSON(parsing: body),
           let refusal = PodSecurity.refusal(podSpec: pod["spec"] ?? [:], annotations: pod.at("metadata", "annotations"), namespace: try? store.get(Controllers.namespaces, namespace: nil, name: attributes.namespace)) {
            return APIError.forbidden("pods \"\(pod.at("metadata", "name")?.string ?? attributes.name)\" is forbidden: \(refusal)")
        }
        let policies = store.all(Self.policies).map(\.1)
        guard !policies.isEmpty else { return nil }
        let namespace = type.namespaced ? attributes.namespace : nil
        let current = attributes.name.isEmpty ? nil : try? store.get(type, namespace: namespace, name: attributes.name)
        var object: JSON = .null
        var oldObject: JSON = .null
        var effective = operation
        switch operation {
        case "CREATE":
            object = (try? JSON(parsing: body)) ?? .null
        case "UPDATE":
            let sent = (try? JSON(parsing: body)) ?? .null
            if let current {
                oldObject = current
                object = attributes.verb == "update" ? sent : current.mergePatched(with: sent)
            } else {
                // An apply that creates is admitted as a create.
                effective = "CREATE"
                object = sent
            }
        case "DELETE":
            oldObject = current ?? .null
        default:
            break
        }
        if case .object = object {
            if object.at("metadata", "name") == nil { object.set(["metadata", "name"], to: .string(attributes.name)) }
            if object["kind"] == nil { object["kind"] = .string(type.kind) }
        }
        let namespaceObject = namespace.flatMap { try? store.get(Controllers.namespaces, namespace: nil, name: $0) } ?? .null
        let request: JSON = [
            "operation": .string(effective), "namespace": .string(attributes.namespace), "name": .string(attributes.name),
            "subResource": .string(attributes.subresource),
            "resource": ["group": .string(attributes.group), "version": .string(type.version), "resource": .string(attributes.resource)],
            "userInfo": ["username": .string(user.name), "groups": .array(user.groups.map { .string($0) })],
        ]
        let review: JSON = [
            "policies": .array(policies), "bindings": .array(store.all(Self.policyBindings).map(\.1)),
            "attributes": ["request": request, "object": object, "oldObject": oldObject, "namespaceObject": namespaceObject],
        ]
        guard let client = admissionEvaluator.withLock({ $0 }) else {
            return APIError(code: 500, reason: "InternalError", message: "ValidatingAdmissionPolicies are stored but kube-sim has no evaluator for them (failurePolicy Fail)", details: nil)
        }
        let answer: JSON
        do {
            let response = try await client.send("POST", "/", body: Array(review.serialized()))
            guard let json = response.json else { throw KubeError(reason: .unknown, code: response.status, message: "not JSON", request: "/") }
            answer = json
        } catch {
            return APIError(code: 500, reason: "InternalError", message: "failed calling the admission evaluator: \(error)", details: nil)
        }
        guard answer["allowed"] == .bool(false) else { return nil }
        let reason = answer["reason"]?.string ?? "Invalid"
        let codes = ["Forbidden": 403, "Invalid": 422, "Unauthorized": 401, "RequestEntityTooLarge": 413]
        return APIError(code: codes[reason] ?? 422, reason: reason, message: answer["message"]?.string ?? "denied", details: nil)
    }

    /// The LimitRanger admission plugin for claims: a claim whose storage request is above the
    /// namespace's `PersistentVolumeClaim` maximum (or below its minimum) is refused, in the plugin's
    /// words. (Container bounds are LimitRanger.swift's: the simulator's controllers make the pods.)
    func limitRanger(_ type: ResourceType, _ attributes: RequestAttributes, body: Data) -> APIError? {
        guard type.kind == "PersistentVolumeClaim", ["create", "update", "patch"].contains(attributes.verb),
              let sent = try? JSON(parsing: body) else { return nil }
        var object = sent
        if attributes.verb == "patch", let current = try? store.get(type, namespace: attributes.namespace, name: attributes.name) {
            object = current.mergePatched(with: sent)
        }
        guard let requestText = object.at("spec", "resources", "requests", "storage")?.string, let request = Quantity.parse(requestText) else { return nil }
        let name = object.at("metadata", "name")?.string ?? attributes.name
        for (key, range) in store.all(Controllers.limitRanges) where key.namespace == attributes.namespace {
            for item in range.at("spec", "limits")?.arrayValue ?? [] where item["type"]?.string == "PersistentVolumeClaim" {
                if let maxText = item.at("max", "storage")?.string, let max = Quantity.parse(maxText), request > max {
                    return APIError.forbidden("persistentvolumeclaims \"\(name)\" is forbidden: maximum storage usage per PersistentVolumeClaim is \(maxText), but request is \(requestText)")
                }
                if let minText = item.at("min", "storage")?.string, let min = Quantity.parse(minText), request < min {
                    return APIError.forbidden("persistentvolumeclaims \"\(name)\" is forbidden: minimum storage usage per PersistentVolumeClaim is \(minText), but request is \(requestText)")
                }
            }
        }
        return nil
    }
}

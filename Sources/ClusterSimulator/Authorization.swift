import Foundation
import KubeClient
import ServiceRuntime

/// Who a request comes from, as the API server's authenticators say it.
public struct UserInfo: Sendable, Equatable {
    public var name: String
    public var groups: [String]

    /// The simulator's own token and client certificates: `system:masters`, which RBAC never checks
    /// (as on a real cluster, where that group bypasses the authorizer).
    static let admin = UserInfo(name: "kube-admin", groups: ["system:masters", "system:authenticated"])

    static func serviceAccount(namespace: String, name: String) -> UserInfo {
        UserInfo(name: "system:serviceaccount:\(namespace):\(name)",
                 groups: ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"])
    }

    var isMaster: Bool { groups.contains("system:masters") }
}

/// What RBAC decides on, as the API server's request-info parser derives it from a request.
struct RequestAttributes: Sendable, Equatable {
    var verb: String
    var group: String = ""
    var resource: String = ""
    var subresource: String = ""
    /// Empty for cluster-scoped requests. For `namespaces/<name>` it is `<name>` itself: a Role in a
    /// namespace that grants verbs on `namespaces` reaches that namespace object, and only it.
    var namespace: String = ""
    var name: String = ""
    var isResourceRequest = true
    var path = ""

    var resourceWithSubresource: String { subresource.isEmpty ? resource : "\(resource)/\(subresource)" }

    /// Parses `/api/v1/...` and `/apis/<group>/<version>/...` as the API server does; anything else is
    /// a non-resource request (discovery, /version, /healthz).
    init(method: String, path: String, query: [String: String]) {
        self.path = path
        let segments = path.split(separator: "/").map(String.init)
        var rest: [String]
        if segments.count >= 3, segments[0] == "api" {
            rest = Array(segments.dropFirst(2))
        } else if segments.count >= 4, segments[0] == "apis" {
            group = segments[1]
            rest = Array(segments.dropFirst(3))
        } else {
            isResourceRequest = false
            verb = method.lowercased()
            return
        }
        if rest.first == "namespaces", rest.count >= 2 {
            namespace = rest[1]
            // namespaces/<name>/<resource>...; but namespaces/<name>/status and /finalize are the
            // namespace's own subresources.
            if rest.count > 2, !["status", "finalize"].contains(rest[2]) { rest = Array(rest.dropFirst(2)) }
        }
        if rest.count >= 1 { resource = rest[0] }
        if rest.count >= 2 { name = rest[1] }
        if rest.count >= 3 { subresource = rest[2] }
        switch method {
        case "GET", "HEAD":
            if query["watch"] == "true" || query["watch"] == "1" { verb = "watch" } else { verb = name.isEmpty ? "list" : "get" }
        case "POST": verb = "create"
        case "PUT": verb = "update"
        case "PATCH": verb = "patch"
        case "DELETE": verb = name.isEmpty ? "deletecollection" : "delete"
        default: verb = method.lowercased()
        }
    }

    init(verb: String, group: String, resource: String, namespace: String, name: String = "") {
        self.verb = verb
        self.group = group
        self.resource = resource
        self.namespace = namespace
        self.name = name
    }
}

/// RBAC as the API server's authorizer evaluates it: ClusterRoleBindings everywhere, RoleBindings in the
/// request's namespace, a rule matching when its groups, resources, verbs and (if any) resource names
/// all match; plus the escalation checks on writes of roles and bindings. Deny unless some rule allows.
struct RBACAuthorizer {
    let store: ObjectStore

    static let roles = ResourceCatalog.type(group: "rbac.authorization.k8s.io", version: "v1", plural: "roles")!
    static let roleBindings = ResourceCatalog.type(group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings")!
    static let clusterRoles = ResourceCatalog.type(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles")!
    static let clusterRoleBindings = ResourceCatalog.type(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings")!

    /// Paths every authenticated user may GET (the default `system:discovery`, `system:basic-user` and
    /// `system:public-info-viewer` bindings).
    static func isPublicPath(_ path: String) -> Bool {
        ["/api", "/apis", "/version", "/healthz", "/livez", "/readyz", "/openapi/v2"].contains(path)
            || path.hasPrefix("/api/") || path.hasPrefix("/apis/") || path.hasPrefix("/openapi/v3")
    }

    func allows(_ user: UserInfo, _ request: RequestAttributes) -> Bool {
        if user.isMaster { return true }
        if !request.isResourceRequest { return request.verb == "get" && Self.isPublicPath(request.path) }
        return rules(of: user, namespace: request.namespace).contains { Self.matches($0, request) }
    }

    /// Every rule that applies to `user` in `namespace` (cluster-wide ones only when it is empty).
    func rules(of user: UserInfo, namespace: String) -> [JSON] {
        var rules: [JSON] = []
        for (_, binding) in store.all(Self.clusterRoleBindings) where Self.binds(binding, user) {
            rules += roleRules(binding["roleRef"], bindingNamespace: nil)
        }
        if !namespace.isEmpty {
            for (key, binding) in store.all(Self.roleBindings) where key.namespace == namespace && Self.binds(binding, user) {
                rules += roleRules(binding["roleRef"], bindingNamespace: namespace)
            }
        }
        return rules
    }

    private func roleRules(_ roleRef: JSON?, bindingNamespace: String?) -> [JSON] {
        guard let kind = roleRef?["kind"]?.string, let name = roleRef?["name"]?.string else { return [] }
        let role: JSON?
        switch kind {
        case "ClusterRole": role = try? store.get(Self.clusterRoles, namespace: nil, name: name)
        case "Role": role = bindingNamespace.flatMap { try? store.get(Self.roles, namespace: $0, name: name) }
        default: role = nil
        }
        return role?["rules"]?.arrayValue ?? []
    }

    static func binds(_ binding: JSON, _ user: UserInfo) -> Bool {
        (binding["subjects"]?.arrayValue ?? []).contains { subject in
            let name = subject["name"]?.string ?? ""
            switch subject["kind"]?.string {
            case "User": return name == user.name
            case "Group": return user.groups.contains(name)
            case "ServiceAccount":
                return user.name == "system:serviceaccount:\(subject["namespace"]?.string ?? ""):\(name)"
            default: return false
            }
        }
    }

    /// A rule's "*" matches anything; a requested "*" (asked when checking escalation) is matched only by
    /// a rule's "*".
    static func matches(_ rule: JSON, _ request: RequestAttributes) -> Bool {
        func has(_ field: String, _ value: String) -> Bool {
            let values = (rule[field]?.arrayValue ?? []).compactMap(\.string)
            return values.contains("*") || values.contains(value)
        }
        guard has("apiGroups", request.group), has("verbs", request.verb) else { return false }
        let resources = (rule["resources"]?.arrayValue ?? []).compactMap(\.string)
        let wanted = request.resourceWithSubresource
        guard resources.contains(wanted) || resources.contains("*")
                || (!request.subresource.isEmpty && resources.contains("*/\(request.subresource)")) else { return false }
        let names = (rule["resourceNames"]?.arrayValue ?? []).compactMap(\.string)
        return names.isEmpty || (!request.name.isEmpty && names.contains(request.name))
    }

    /// Whether `user` already holds every permission of `rules` in `namespace` (empty: cluster-wide),
    /// which is what lets it write a role with those rules, or bind one, without `escalate` or `bind`.
    func covers(_ user: UserInfo, _ rules: [JSON], namespace: String) -> Bool {
        if user.isMaster { return true }
        let held = self.rules(of: user, namespace: namespace)
        for rule in rules {
            if rule["nonResourceURLs"] != nil { return false }
            let strings = { (field: String) in (rule[field]?.arrayValue ?? []).compactMap(\.string) }
            let names = strings("resourceNames")
            for group in strings("apiGroups") {
                for resource in strings("resources") {
                    let parts = resource.split(separator: "/", maxSplits: 1).map(String.init)
                    for verb in strings("verbs") {
                        for name in names.isEmpty ? [""] : names {
                            var wanted = RequestAttributes(verb: verb, group: group, resource: parts[0], namespace: namespace, name: name)
                            if parts.count == 2 { wanted.subresource = parts[1] }
                            // A rule without resourceNames is wider than any rule with them.
                            let ok = held.contains { heldRule in
                                Self.matches(heldRule, wanted)
                                    && (!names.isEmpty || (heldRule["resourceNames"]?.arrayValue ?? []).isEmpty)
                            }
                            if !ok { return false }
                        }
                    }
                }
            }
        }
        return true
    }

    /// The API server's escalation checks on RBAC writes (create, update, patch and apply), given the
    /// object as it would be stored. Roles: every rule must already be held, unless `escalate`.
    /// Bindings: `bind` on the referenced role by name, or every rule of that role already held.
    func checkEscalation(_ user: UserInfo, type: ResourceType, namespace: String?, object: JSON) throws(APIError) {
        guard !user.isMaster, type.group == "rbac.authorization.k8s.io" else { return }
        let scope = namespace ?? ""
        let name = object.at("metadata", "name")?.string ?? ""
        switch type.plural {
        case "roles", "clusterroles":
            if allows(user, RequestAttributes(verb: "escalate", group: type.group, resource: type.plural, namespace: scope, name: name)) { return }
            guard covers(user, object["rules"]?.arrayValue ?? [], namespace: scope) else {
                throw APIError.forbidden("\(type.plural).rbac.authorization.k8s.io \"\(name)\" is forbidden: user \"\(user.name)\" is attempting to grant RBAC permissions not currently held")
            }
        case "rolebindings", "clusterrolebindings":
            let refKind = object.at("roleRef", "kind")?.string ?? ""
            let refName = object.at("roleRef", "name")?.string ?? ""
            let refResource = refKind == "Role" ? "roles" : "clusterroles"
            if allows(user, RequestAttributes(verb: "bind", group: "rbac.authorization.k8s.io", resource: refResource, namespace: scope, name: refName)) { return }
            // A role that does not exist (or grants nothing) cannot be shown to be held: refused, as the
            // API server refuses it when it cannot read the role's rules.
            let rules = roleRules(object["roleRef"], bindingNamespace: namespace)
            guard !rules.isEmpty, covers(user, rules, namespace: scope) else {
                throw APIError.forbidden("\(type.plural).rbac.authorization.k8s.io \"\(name)\" is forbidden: user \"\(user.name)\" is attempting to grant RBAC permissions not currently held")
            }
        default:
            return
        }
    }

    /// The API server's Forbidden answer, worded as it words it.
    static func forbidden(_ user: UserInfo, _ request: RequestAttributes) -> APIError {
        guard request.isResourceRequest else {
            return APIError.forbidden("forbidden: User \"\(user.name)\" cannot \(request.verb) path \"\(request.path)\"")
        }
        let what = request.group.isEmpty ? request.resource : "\(request.resource).\(request.group)"
        let subject = request.name.isEmpty ? what : "\(what) \"\(request.name)\""
        let scope = request.namespace.isEmpty ? "at the cluster scope" : "in the namespace \"\(request.namespace)\""
        return APIError(code: 403, reason: "Forbidden",
                        message: "\(subject) is forbidden: User \"\(user.name)\" cannot \(request.verb) resource \"\(request.resourceWithSubresource)\" in API group \"\(request.group)\" \(scope)",
                        details: ["name": .string(request.name), "group": .string(request.group), "kind": .string(request.resource)])
    }
}

/// Service-account tokens issued through the TokenRequest API; each is valid while its service account
/// exists (a deleted and re-created account does not revive old tokens).
final class ServiceAccountTokens: Sendable {
    private let tokens = LockedState<[String: (namespace: String, name: String, uid: String)]>([:])

    func issue(namespace: String, name: String, uid: String) -> String {
        let token = "kube-sim-sa." + ClusterSimulator.randomToken()
        tokens.withLock { $0[token] = (namespace, name, uid) }
        return token
    }

    func user(for token: String, store: ObjectStore) -> UserInfo? {
        guard let entry = tokens.withLock({ $0[token] }) else { return nil }
        let type = ResourceCatalog.type(group: "", version: "v1", plural: "serviceaccounts")!
        guard let account = try? store.get(type, namespace: entry.namespace, name: entry.name),
              account.at("metadata", "uid")?.string == entry.uid else { return nil }
        return .serviceAccount(namespace: entry.namespace, name: entry.name)
    }
}

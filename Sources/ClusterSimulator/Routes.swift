import KubeClient
import Foundation
import Hummingbird
import NIOCore
import NIOSSL
import HTTPTypes

extension ClusterSimulator {
    struct Reply {
        var status: Int
        var body: JSON
        var headers: [(String, String)] = []
    }

    func handle(_ request: Request, _ context: SimulatorContext) async throws -> Response {
        let path = request.uri.path
        let query = Self.parseQuery(request.uri.query ?? "")
        let contentType = request.headers[.contentType]
        let buffer = try await request.body.collect(upTo: 16 * 1024 * 1024)
        let body = Data(buffer.readableBytesView)
        let method = request.method.rawValue

        var reply: Reply
        if let user = try await authenticated(request, context) {
            let attributes = RequestAttributes(method: method, path: path, query: query)
            if path.hasPrefix("/sim/") || path == "/sim" {
                reply = user.isMaster ? admin(method: method, path: path, body: body)
                    : Reply(status: 403, body: APIError.forbidden("the simulator's /sim endpoints are for its admin credentials").status)
            } else if let refused = authorize(user, attributes, contentType: contentType, body: body) {
                reply = Reply(status: refused.code, body: refused.status)
            } else if let refused = await admit(user, attributes, contentType: contentType, body: body) {
                reply = Reply(status: refused.code, body: refused.status)
            } else if attributes.resource == "serviceaccounts", attributes.subresource == "token", attributes.verb == "create" {
                reply = tokenRequest(namespace: attributes.namespace, name: attributes.name)
            } else {
                if let dropped = try await injectTransportFaults(context) { return dropped }
                if method == "GET", query["watch"] == "true" || query["watch"] == "1", let watch = watchResponse(path: path, query: query) {
                    record(method: method, path: path, query: request.uri.query ?? "", contentType: contentType, body: "", status: 200,
                           userAgent: request.headers[.userAgent])
                    return watch
                }
                if let target = Self.serviceProxyTarget(path.split(separator: "/").map(String.init)) {
                    reply = serviceProxy(method: method, namespace: target.namespace, service: target.service, path: target.path, query: query,
                                         publishableKey: request.headers[HTTPField.Name(Self.publishableKeyHeader)!])
                } else {
                    let relabelled = Self.namespaceWriteTarget(method: method, path: path)
                    let levelBefore = relabelled.flatMap { try? store.get(Controllers.namespaces, namespace: nil, name: $0) }.map(PodSecurity.enforced)
                    reply = api(method: method, path: path, query: query, contentType: contentType, body: body,
                                userAgent: request.headers[.userAgent])
                    if let relabelled, reply.status == 200 { reply.headers += podSecurityWarnings(namespace: relabelled, levelBefore: levelBefore ?? nil) }
                }
            }
        } else {
            reply = Reply(status: 401, body: APIError.unauthorized.status)
        }
        if !path.hasPrefix("/sim") {
            record(method: method, path: path, query: request.uri.query ?? "", contentType: contentType,
                   body: String(decoding: body, as: UTF8.self), status: reply.status, userAgent: request.headers[.userAgent])
        }
        var headers: HTTPFields = [.contentType: "application/json"]
        // Appended, not set: a response may carry several Warning headers.
        for (name, value) in reply.headers { if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) } }
        return Response(status: .init(code: reply.status), headers: headers, body: .init(byteBuffer: ByteBuffer(data: reply.body.serialized())))
    }

    /// Who is asking: the simulator's own bearer token or a client certificate signed by its CA (verified
    /// during the TLS handshake) is the cluster admin; a token from the TokenRequest API is its service
    /// account, held to RBAC. nil: unauthenticated (401).
    private func authenticated(_ request: Request, _ context: SimulatorContext) async throws -> UserInfo? {
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer ") else { return nil }
            let presented = String(header.dropFirst("Bearer ".count))
            if presented == token { return .admin }
            return serviceAccountTokens.user(for: presented, store: store)
        }
        let certificate = try? await context.channel.nioSSL_peerCertificate().get()
        return certificate != nil ? .admin : nil
    }

    /// RBAC for the request, then the checks the API server adds for some writes: an apply that would
    /// create the object needs `create` as well as `patch`, and a role or binding may grant nothing the
    /// caller could not grant (escalation). nil: allowed.
    func authorize(_ user: UserInfo, _ attributes: RequestAttributes, contentType: String?, body: Data) -> APIError? {
        guard !user.isMaster else { return nil }
        let rbac = RBACAuthorizer(store: store)
        guard rbac.allows(user, attributes) else { return RBACAuthorizer.forbidden(user, attributes) }
        guard attributes.isResourceRequest, attributes.subresource.isEmpty,
              ["create", "update", "patch"].contains(attributes.verb),
              let type = ResourceCatalog.types.first(where: { $0.group == attributes.group && $0.plural == attributes.resource })
        else { return nil }
        let namespace = type.namespaced ? attributes.namespace : nil
        let current = attributes.name.isEmpty ? nil : try? store.get(type, namespace: namespace, name: attributes.name)
        if attributes.verb == "patch", current == nil, contentType?.hasPrefix("application/apply-patch") == true {
            // As the API server's createAuthorizerAttributes: the same request, as a create.
            var create = attributes
            create.verb = "create"
            guard rbac.allows(user, create) else { return RBACAuthorizer.forbidden(user, create) }
        }
        guard type.group == "rbac.authorization.k8s.io", var object = try? JSON(parsing: body) else { return nil }
        if attributes.verb == "patch", let current, contentType?.hasPrefix("application/apply-patch") != true {
            object = current.mergePatched(with: object)
        }
        if object.at("metadata", "name") == nil { object.set(["metadata", "name"], to: .string(attributes.name)) }
        do {
            try rbac.checkEscalation(user, type: type, namespace: namespace, object: object)
        } catch {
            return error
        }
        return nil
    }

    /// The TokenRequest API (`kubectl create token`): a token for the service account, which then
    /// authenticates as `system:serviceaccount:<namespace>:<name>`.
    func tokenRequest(namespace: String, name: String) -> Reply {
        let type = ResourceCatalog.type(group: "", version: "v1", plural: "serviceaccounts")!
        do {
            let account = try store.get(type, namespace: namespace, name: name)
            let token = serviceAccountTokens.issue(namespace: namespace, name: name, uid: account.at("metadata", "uid")?.string ?? "")
            return Reply(status: 201, body: [
                "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": ["name": .string(name), "namespace": .string(namespace)],
                "spec": ["audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600],
                "status": ["token": .string(token), "expirationTimestamp": .string(ObjectStore.timestamp(Date().addingTimeInterval(3600)))],
            ])
        } catch {
            return Reply(status: error.code, body: error.status)
        }
    }

    /// Latency and dropped connections; returns a response only when the connection was dropped.
    private func injectTransportFaults(_ context: SimulatorContext) async throws -> Response? {
        let faults = self.faults.withLock { $0 }
        if faults.latencyMs > 0 { try await Task.sleep(for: .milliseconds(faults.latencyMs)) }
        if faults.dropRate > 0, Double.random(in: 0..<1) < faults.dropRate {
            try? await context.channel.close()
            return Response(status: .internalServerError)
        }
        return nil
    }

    // MARK: - The Kubernetes API

    func api(method: String, path: String, query: [String: String], contentType: String?, body: Data, userAgent: String? = nil) -> Reply {
        let segments = path.split(separator: "/").map(String.init)
        switch segments {
        case ["version"]:
            return Reply(status: 200, body: ["major": "1", "minor": "35", "gitVersion": "v1.35.0-kube-sim", "platform": "linux/amd64"])
        case ["healthz"], ["readyz"], ["livez"]:
            return Reply(status: 200, body: "ok")
        case ["api"]:
            return Reply(status: 200, body: ["kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []])
        case ["openapi", "v3"]:
            return Reply(status: 200, body: OpenAPIDocuments.root())
        case _ where segments.count >= 3 && segments[0] == "openapi" && segments[1] == "v3":
            guard let document = OpenAPIDocuments.groupVersion(Array(segments.dropFirst(2)).joined(separator: "/")) else {
                return Reply(status: 404, body: APIError(code: 404, reason: "NotFound", message: "no OpenAPI document for \(path)", details: nil).status)
            }
            return Reply(status: 200, body: document)
        case ["apis"]:
            return Reply(status: 200, body: ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(ResourceCatalog.groups.map { group in
                let version: JSON = ["groupVersion": .string("\(group)/v1"), "version": "v1"]
                return ["name": .string(group), "versions": [version], "preferredVersion": version]
            })])
        default:
            break
        }
        let group: String
        let version: String
        let rest: [String]
        if segments.count >= 2, segments[0] == "api" {
            (group, version, rest) = ("", segments[1], Array(segments.dropFirst(2)))
        } else if segments.count >= 3, segments[0] == "apis" {
            (group, version, rest) = (segments[1], segments[2], Array(segments.dropFirst(3)))
        } else {
            return Reply(status: 404, body: APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource", details: nil).status)
        }
        if rest.isEmpty {
            let types = ResourceCatalog.types.filter { $0.group == group && $0.version == version }
            guard !types.isEmpty else {
                return Reply(status: 404, body: APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource", details: nil).status)
            }
            return Reply(status: 200, body: [
                "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(types[0].apiVersion),
                "resources": .array(types.map { type in
                    ["name": .string(type.plural), "singularName": .string(type.kind.lowercased()), "namespaced": .bool(type.namespaced),
                     "kind": .string(type.kind), "verbs": .array(type.verbs.map { .string($0) }),
                     "shortNames": .array(type.shortNames.map { .string($0) })]
                }),
            ])
        }

        // /namespaces/{ns}/{plural}[/{name}[/status]] or /{plural}[/{name}[/status]]
        var namespace: String?
        var parts = rest
        if parts.count >= 3, parts[0] == "namespaces" {
            namespace = parts[1]
            parts = Array(parts.dropFirst(2))
        }
        if parts.last == "status", parts.count == 2 { parts.removeLast() }
        guard let plural = parts.first, parts.count <= 2,
              let type = ResourceCatalog.type(group: group, version: version, plural: plural)
        else {
            return Reply(status: 404, body: APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource", details: nil).status)
        }
        let name = parts.count == 2 ? parts[1] : nil
        let verb = Self.verb(method: method, name: name, contentType: contentType)
        // Only JSON is spoken: a protobuf or CBOR body gets 415, on which clients such as kubectl fall back to JSON.
        if !body.isEmpty, let contentType, !contentType.contains("json"), !contentType.contains("yaml") {
            return Reply(status: 415, body: APIError.unsupportedMediaType(contentType).status)
        }
        if let rule = faults.withLock({ $0.errorRule(verb: verb, resource: plural, userAgent: userAgent) }) {
            let reasons = [400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 422: "Invalid",
                           429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"]
            let reason = reasons[rule.status] ?? "InternalError"
            var error = APIError(code: rule.status, reason: reason, message: "injected fault: \(reason) for \(verb) \(plural)", details: nil)
            error.retryAfter = rule.retryAfter
            return Reply(status: rule.status, body: error.status, headers: rule.retryAfter.map { [("Retry-After", String($0))] } ?? [])
        }
        do {
            return try perform(verb: verb, type: type, namespace: type.namespaced ? (namespace ?? (name == nil && method != "POST" ? nil : "default")) : nil,
                               name: name, query: query, contentType: contentType, body: body)
        } catch {
            return Reply(status: error.code, body: error.status)
        }
    }

    static func verb(method: String, name: String?, contentType: String?) -> String {
        switch method {
        case "GET": name == nil ? "list" : "get"
        case "POST": "create"
        case "PUT": "update"
        case "PATCH": contentType?.hasPrefix("application/apply-patch") == true ? "apply" : "patch"
        case "DELETE": "delete"
        default: method.lowercased()
        }
    }

    private func perform(verb: String, type: ResourceType, namespace: String?, name: String?, query: [String: String], contentType: String?, body: Data) throws(APIError) -> Reply {
        func parsedBody() throws(APIError) -> JSON {
            do {
                let json = try JSON(parsing: body)
                guard json.objectValue != nil else { throw APIError.badRequest("the request body must be a JSON object") }
                return json
            } catch let error as APIError {
                throw error
            } catch {
                throw APIError.badRequest("the request body is not valid JSON (the simulator reads apply bodies as JSON, which is valid YAML): \(error)")
            }
        }
        /// The body as field validation leaves it, and the warnings to send (see FieldSchemas).
        func validatedBody(apply: Bool) throws(APIError) -> (JSON, [(String, String)]) {
            let object = try parsedBody()
            guard let schemas = fieldSchemas.withLock({ $0 }) else { return (object, []) }
            let findings = schemas.check(object, as: type, apply: apply)
            let directive = query["fieldValidation"] ?? "Warn"
            guard ["Strict", "Warn", "Ignore"].contains(directive) else {
                throw APIError.badRequest("fieldValidation must be one of Ignore, Warn or Strict, not \(directive)")
            }
            let unknown = findings.unknown.sorted()
            if apply, !findings.duplicates.isEmpty || (directive == "Strict" && !unknown.isEmpty) {
                let problems = findings.duplicates.sorted() + (directive == "Strict" ? unknown.map { "\($0): field not declared in schema" } : [])
                let gvk = "\(type.group)/\(type.version), Kind=\(type.kind)"
                let said = problems.count == 1 ? problems[0] : "errors:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
                throw APIError(code: 500, reason: "InternalError",
                               message: "failed to create typed patch object (\(namespace ?? "")/\(name ?? ""); \(gvk)): \(said)", details: nil)
            }
            if directive == "Strict", !unknown.isEmpty {
                throw APIError.badRequest("strict decoding error: " + unknown.map { "unknown field \"\($0)\"" }.joined(separator: ", "))
            }
            let warnings = directive == "Warn" ? unknown.map { ("Warning", "299 - \"unknown field \\\"\($0)\\\"\"") } : []
            return (findings.object, warnings)
        }
        switch verb {
        case "get":
            return Reply(status: 200, body: try store.get(type, namespace: namespace, name: name ?? ""))
        case "list":
            var fieldName: String?
            var fieldNamespace = namespace
            if let field = query["fieldSelector"] {
                for clause in field.split(separator: ",") {
                    let pair = clause.split(separator: "=", maxSplits: 1).map(String.init)
                    guard pair.count == 2 else { throw APIError.badRequest("invalid field selector \"\(field)\"") }
                    switch pair[0].replacingOccurrences(of: "=", with: "") {
                    case "metadata.name": fieldName = pair[1].replacingOccurrences(of: "=", with: "")
                    case "metadata.namespace": fieldNamespace = pair[1].replacingOccurrences(of: "=", with: "")
                    default: throw APIError.badRequest("field label not supported: \(pair[0])")
                    }
                }
            }
            let selector = try query["labelSelector"].map { text throws(APIError) in try LabelSelector(parsing: text) }
            return Reply(status: 200, body: store.list(type, namespace: fieldNamespace, labelSelector: selector, fieldName: fieldName))
        case "create":
            guard name == nil else { throw APIError.methodNotAllowed("POST is not allowed on a named object") }
            let (object, warnings) = try validatedBody(apply: false)
            return Reply(status: 201, body: try store.create(type, namespace: namespace, object: object), headers: warnings)
        case "update":
            guard let name else { throw APIError.methodNotAllowed("PUT needs an object name") }
            let (object, warnings) = try validatedBody(apply: false)
            return Reply(status: 200, body: try store.replace(type, namespace: namespace, name: name, object: object), headers: warnings)
        case "patch":
            guard let name else { throw APIError.methodNotAllowed("PATCH needs an object name") }
            guard let contentType, contentType.hasPrefix("application/merge-patch+json") || contentType.hasPrefix("application/strategic-merge-patch+json") else {
                throw APIError.unsupportedMediaType(contentType ?? "none")
            }
            let (patch, warnings) = try validatedBody(apply: false)
            return Reply(status: 200, body: try store.mergePatch(type, namespace: namespace, name: name, patch: patch), headers: warnings)
        case "apply":
            guard let name else { throw APIError.methodNotAllowed("apply needs an object name") }
            guard let manager = query["fieldManager"], !manager.isEmpty else {
                throw APIError.badRequest("PATCH /apply requires a non-empty fieldManager")
            }
            let (applied, warnings) = try validatedBody(apply: true)
            let (object, created) = try store.apply(type, namespace: namespace, name: name, object: applied, fieldManager: manager)
            return Reply(status: created ? 201 : 200, body: object, headers: warnings)
        case "delete":
            guard let name else { throw APIError.methodNotAllowed("collection deletion is not supported by the simulator") }
            // DeleteOptions.preconditions.uid: only that object, as the API server checks it.
            if !body.isEmpty, let uid = (try? JSON(parsing: body))?.at("preconditions", "uid")?.string {
                let current = try store.get(type, namespace: namespace, name: name)
                if let actual = current.at("metadata", "uid")?.string, actual != uid {
                    throw APIError(code: 409, reason: "Conflict",
                                   message: "Operation cannot be fulfilled on \(type.plural) \"\(name)\": Precondition failed: UID in precondition: \(uid), UID in object meta: \(actual)",
                                   details: ["name": .string(name), "kind": .string(type.plural)])
                }
            }
            if type.kind == "Namespace" { return Reply(status: 200, body: try store.beginNamespaceDeletion(name)) }
            return Reply(status: 200, body: try store.delete(type, namespace: namespace, name: name))
        default:
            throw APIError.methodNotAllowed("\(verb) is not supported")
        }
    }

    /// A watch: the matching objects as ADDED events, then their changes (MODIFIED, DELETED) as the
    /// simulator polls its store, until `timeoutSeconds` (at most 60). Enough for `kubectl delete --wait`
    /// and `kubectl get -w`; there are no bookmarks and resourceVersion is not honoured.
    func watchResponse(path: String, query: [String: String]) -> Response? {
        let listQuery = query.filter { $0.key != "watch" }
        let initial = api(method: "GET", path: path, query: listQuery, contentType: nil, body: Data())
        guard initial.status == 200, let items = initial.body["items"]?.arrayValue else { return nil }
        let timeout = min(Double(query["timeoutSeconds"] ?? "") ?? 30, 60)
        let sendInitialEvents = query["sendInitialEvents"] == "true"
        let kind = String((initial.body["kind"]?.string ?? "List").dropLast(4))
        let apiVersion = initial.body["apiVersion"]?.string ?? "v1"
        let listVersion = initial.body.at("metadata", "resourceVersion")?.string ?? "1"
        let body = ResponseBody { writer in
            func key(_ object: JSON) -> String {
                "\(object.at("metadata", "namespace")?.string ?? "")/\(object.at("metadata", "name")?.string ?? "")"
            }
            func send(_ type: String, _ object: JSON) async throws {
                var line = JSON.object(["type": .string(type), "object": object]).serialized()
                line.append(0x0A)
                try await writer.write(ByteBuffer(data: line))
            }
            var known: [String: JSON] = [:]
            for item in items {
                known[key(item)] = item
                try await send("ADDED", item)
            }
            if sendInitialEvents {
                // Watch-list clients (kubectl delete --wait) wait for this bookmark before anything else.
                try await send("BOOKMARK", [
                    "kind": .string(kind), "apiVersion": .string(apiVersion),
                    "metadata": ["resourceVersion": .string(listVersion), "annotations": ["k8s.io/initial-events-end": "true"]],
                ])
            }
            let deadline = ContinuousClock.now + .seconds(timeout)
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                let now = self.api(method: "GET", path: path, query: listQuery, contentType: nil, body: Data())
                let current = Dictionary((now.body["items"]?.arrayValue ?? []).map { (key($0), $0) }) { first, _ in first }
                for (name, object) in current {
                    if let old = known[name] {
                        if old.at("metadata", "resourceVersion") != object.at("metadata", "resourceVersion") { try await send("MODIFIED", object) }
                    } else {
                        try await send("ADDED", object)
                    }
                }
                for (name, object) in known where current[name] == nil { try await send("DELETED", object) }
                known = current
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: body)
    }

    // MARK: - Admin endpoints (/sim/...)

    func admin(method: String, path: String, body: Data) -> Reply {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        func encoded<T: Encodable>(_ value: T) -> JSON {
            (try? JSON(parsing: encoder.encode(value))) ?? .null
        }
        switch (method, path) {
        case ("GET", "/sim/faults"):
            return Reply(status: 200, body: encoded(faults.withLock { $0 }))
        case ("PUT", "/sim/faults"):
            guard let settings = try? JSONDecoder().decode(FaultSettings.self, from: body) else {
                return Reply(status: 400, body: APIError.badRequest("the body must be fault settings as JSON (see docs/simulator.md)").status)
            }
            setFaults(settings)
            return Reply(status: 200, body: encoded(settings))
        case ("GET", "/sim/timing"):
            return Reply(status: 200, body: encoded(timing.withLock { $0 }))
        case ("PUT", "/sim/timing"):
            guard let settings = try? JSONDecoder().decode(SimulatorTiming.self, from: body) else {
                return Reply(status: 400, body: APIError.badRequest("the body must be timing settings as JSON").status)
            }
            setTiming(settings)
            return Reply(status: 200, body: encoded(settings))
        case ("GET", "/sim/requests"):
            return Reply(status: 200, body: encoded(requests))
        case ("DELETE", "/sim/requests"):
            clearRecords()
            return Reply(status: 200, body: [:])
        case ("GET", "/sim/namespaces"):
            let namespaces = store.all(Controllers.namespaces).map(\.0.name).sorted()
            return Reply(status: 200, body: ["namespaces": .array(namespaces.map { .string($0) }), "objects": .number(Double(store.count))])
        case ("POST", "/sim/reset"):
            store.reset()
            seedSystemObjects()
            clearRecords()
            return Reply(status: 200, body: [:])
        default:
            return Reply(status: 404, body: APIError(code: 404, reason: "NotFound", message: "no admin endpoint \(method) \(path)", details: nil).status)
        }
    }

    static func parseQuery(_ query: String) -> [String: String] {
        var values: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0].replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? parts[0]
            let value = parts.count > 1 ? (parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? parts[1]) : ""
            values[key] = value
        }
        return values
    }

    /// The namespace a PUT or PATCH of `/api/v1/namespaces/<name>` writes, or nil.
    static func namespaceWriteTarget(method: String, path: String) -> String? {
        guard method == "PUT" || method == "PATCH" else { return nil }
        let parts = path.split(separator: "/")
        guard parts.count == 4, parts[0] == "api", parts[1] == "v1", parts[2] == "namespaces" else { return nil }
        return String(parts[3])
    }

    /// What the API server warns when a namespace's enforced Pod Security level changes and pods
    /// already running there fall short of it (kubectl prints these as "Warning: …").
    func podSecurityWarnings(namespace name: String, levelBefore: String?) -> [(String, String)] {
        guard let namespace = try? store.get(Controllers.namespaces, namespace: nil, name: name),
              let level = PodSecurity.enforced(namespace), level != levelBefore else { return [] }
        var warnings: [(String, String)] = []
        for (key, pod) in store.all(Controllers.pods) where key.namespace == name && pod.at("metadata", "deletionTimestamp") == nil {
            let found = PodSecurity.violations(pod["spec"] ?? [:], annotations: pod.at("metadata", "annotations"), level: level)
            guard !found.isEmpty else { continue }
            // Per pod, only the checks' names, as the API server words it.
            let names = found.map { $0.components(separatedBy: " (").first ?? $0 }
            warnings.append(("Warning", "299 - \"\(key.name): \(names.joined(separator: ", "))\""))
        }
        guard !warnings.isEmpty else { return [] }
        return [("Warning", "299 - \"existing pods in namespace \\\"\(name)\\\" violate the new PodSecurity enforce level \\\"\(level)\\\"\"")] + warnings
    }
}

import KubeClient
import Foundation
import ServiceRuntime

/// Where one object lives.
public struct ObjectKey: Hashable, Sendable {
    public let type: ResourceType
    public let namespace: String?
    public let name: String
}

/// The simulator's storage and API semantics: uid, resourceVersion, creationTimestamp and generation as
/// Kubernetes keeps them, optimistic concurrency on update, merge patch, a simplified server-side apply,
/// and namespaces that refuse new objects when missing or terminating.
public final class ObjectStore: Sendable {
    struct State {
        var objects: [ObjectKey: JSON] = [:]
        var resourceVersion = 1000
        /// When each workload's current spec was written, for the readiness delay.
        var specChangedAt: [ObjectKey: Date] = [:]
        /// When each namespace's deletion began (metadata.deletionTimestamp has only whole seconds).
        var deletionStartedAt: [ObjectKey: Date] = [:]
    }

    private let state = LockedState(State())

    public init() {}

    public var count: Int { state.withLock { $0.objects.count } }

    /// Grows with every change to any object: equal revisions mean nothing changed in between.
    var revision: Int { state.withLock { $0.resourceVersion } }

    // MARK: - Reads

    public func get(_ type: ResourceType, namespace: String?, name: String) throws(APIError) -> JSON {
        guard let object = state.withLock({ $0.objects[ObjectKey(type: type, namespace: namespace, name: name)] }) else {
            throw APIError.notFound(type, name)
        }
        return object
    }

    public func list(_ type: ResourceType, namespace: String?, labelSelector: LabelSelector?, fieldName: String?) -> JSON {
        let (items, version) = state.withLock { state in
            (state.objects.filter { key, object in
                key.type == type && (namespace == nil || key.namespace == namespace)
                    && (fieldName == nil || key.name == fieldName)
                    && (labelSelector?.matches(Self.labels(of: object)) ?? true)
            }.sorted { ($0.key.namespace ?? "", $0.key.name) < ($1.key.namespace ?? "", $1.key.name) }.map(\.value), state.resourceVersion)
        }
        return [
            "kind": .string("\(type.kind)List"), "apiVersion": .string(type.apiVersion),
            "metadata": ["resourceVersion": .string(String(version))], "items": .array(items),
        ]
    }

    /// Every object of a namespace, for cascading deletion and inspection.
    public func objects(inNamespace namespace: String) -> [ObjectKey] {
        state.withLock { $0.objects.keys.filter { $0.namespace == namespace } }
    }

    public func all(_ type: ResourceType) -> [(ObjectKey, JSON)] {
        state.withLock { state in state.objects.filter { $0.key.type == type }.map { ($0.key, $0.value) } }
    }

    func specChangedAt(_ key: ObjectKey) -> Date? {
        state.withLock { $0.specChangedAt[key] }
    }

    static let pvcProtection = "kubernetes.io/pvc-protection"

    func deletionStartedAt(_ key: ObjectKey) -> Date? {
        state.withLock { $0.deletionStartedAt[key] }
    }

    // MARK: - Writes

    public func create(_ type: ResourceType, namespace: String?, object: JSON) throws(APIError) -> JSON {
        var object = object
        if object["metadata"]?.objectValue == nil { object["metadata"] = [:] }
        var name = object.at("metadata", "name")?.string ?? ""
        if name.isEmpty, let prefix = object.at("metadata", "generateName")?.string {
            name = prefix + String((0..<5).map { _ in "bcdfghjklmnpqrstvwxz2456789".randomElement()! })
        }
        guard Self.isValidName(name, type: type) else {
            throw APIError.invalid(type, name, "metadata.name: Invalid value: \"\(name)\": a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")
        }
        if let declared = object["kind"]?.string, declared != type.kind {
            throw APIError.badRequest("the kind \(declared) does not match the resource \(type.plural)")
        }
        let key = ObjectKey(type: type, namespace: type.namespaced ? namespace : nil, name: name)
        return try state.withLock { state throws(APIError) -> JSON in
            if type.namespaced { try Self.checkNamespaceWritable(namespace, in: state) }
            guard state.objects[key] == nil else { throw APIError.alreadyExists(type, name) }
            state.resourceVersion += 1
            object["apiVersion"] = .string(type.apiVersion)
            object["kind"] = .string(type.kind)
            object.set(["metadata", "name"], to: .string(name))
            if type.namespaced { object.set(["metadata", "namespace"], to: .string(namespace ?? "default")) }
            object.set(["metadata", "uid"], to: .string(UUID().uuidString.lowercased()))
            object.set(["metadata", "resourceVersion"], to: .string(String(state.resourceVersion)))
            object.set(["metadata", "creationTimestamp"], to: .string(Self.timestamp(Date())))
            object.set(["metadata", "generation"], to: 1)
            if type.kind == "Secret" { Self.foldStringData(&object) }
            // The PersistentVolumeClaim protection admission plugin: a claim in use outlives its delete.
            if type.kind == "PersistentVolumeClaim" {
                var finalizers = object.at("metadata", "finalizers")?.arrayValue ?? []
                if !finalizers.contains(.string(Self.pvcProtection)) { finalizers.append(.string(Self.pvcProtection)) }
                object.set(["metadata", "finalizers"], to: .array(finalizers))
            }
            if type.kind == "Namespace" {
                object.set(["status", "phase"], to: "Active")
                object.set(["metadata", "labels", "kubernetes.io/metadata.name"], to: .string(name))
            }
            state.objects[key] = object
            state.specChangedAt[key] = Date()
            return object
        }
    }

    /// PUT: replaces the object; a stale resourceVersion is a conflict, as on a real server.
    public func replace(_ type: ResourceType, namespace: String?, name: String, object: JSON) throws(APIError) -> JSON {
        let key = ObjectKey(type: type, namespace: type.namespaced ? namespace : nil, name: name)
        return try state.withLock { state throws(APIError) -> JSON in
            guard let current = state.objects[key] else { throw APIError.notFound(type, name) }
            if let sent = object.at("metadata", "resourceVersion")?.string, !sent.isEmpty,
               sent != current.at("metadata", "resourceVersion")?.string {
                throw APIError.conflict(type, name)
            }
            if let sentName = object.at("metadata", "name")?.string, sentName != name {
                throw APIError.badRequest("the name of the object (\(sentName)) does not match the name on the URL (\(name))")
            }
            return Self.store(object, replacing: current, key: key, in: &state)
        }
    }

    /// PATCH with a JSON merge patch (RFC 7386).
    public func mergePatch(_ type: ResourceType, namespace: String?, name: String, patch: JSON) throws(APIError) -> JSON {
        let key = ObjectKey(type: type, namespace: type.namespaced ? namespace : nil, name: name)
        return try state.withLock { state throws(APIError) -> JSON in
            guard let current = state.objects[key] else { throw APIError.notFound(type, name) }
            if let sent = patch.at("metadata", "resourceVersion")?.string, sent != current.at("metadata", "resourceVersion")?.string {
                throw APIError.conflict(type, name)
            }
            return Self.store(current.mergePatched(with: patch), replacing: current, key: key, in: &state)
        }
    }

    /// Server-side apply, simplified: creates the object if missing, otherwise merges the applied fields
    /// over it (fields the manager stopped sending are kept; the simulator tracks no field ownership).
    public func apply(_ type: ResourceType, namespace: String?, name: String, object: JSON, fieldManager: String) throws(APIError) -> (JSON, created: Bool) {
        if let sentName = object.at("metadata", "name")?.string, sentName != name {
            throw APIError.badRequest("the name of the object (\(sentName)) does not match the name on the URL (\(name))")
        }
        var applied = object
        applied.set(["metadata", "name"], to: .string(name))
        let key = ObjectKey(type: type, namespace: type.namespaced ? namespace : nil, name: name)
        let exists = state.withLock { $0.objects[key] != nil }
        if !exists {
            do {
                var created = try create(type, namespace: namespace, object: applied)
                created.set(["metadata", "managedFields"], to: [["manager": .string(fieldManager), "operation": "Apply"]])
                state.withLock { $0.objects[key] = created }
                return (created, true)
            } catch where error.reason == "AlreadyExists" {
                // Created concurrently: fall through to merge.
            }
        }
        var patch = applied
        patch.set(["metadata", "resourceVersion"], to: nil)
        return (try mergePatch(type, namespace: namespace, name: name, patch: patch), false)
    }

    /// Removes an object, as the API server does: at once when nothing holds it; an object with
    /// finalizers (a claim's `kubernetes.io/pvc-protection`) or a pod (its termination grace period)
    /// gets `deletionTimestamp` and stays until the controllers let it go. Namespaces go through
    /// `Terminating` (see `beginNamespaceDeletion`).
    @discardableResult
    public func delete(_ type: ResourceType, namespace: String?, name: String) throws(APIError) -> JSON {
        let key = ObjectKey(type: type, namespace: type.namespaced ? namespace : nil, name: name)
        return try state.withLock { state throws(APIError) -> JSON in
            guard var object = state.objects[key] else { throw APIError.notFound(type, name) }
            let finalizers = object.at("metadata", "finalizers")?.arrayValue ?? []
            if type.kind == "Pod" || !finalizers.isEmpty {
                guard object.at("metadata", "deletionTimestamp") == nil else { return object }
                state.resourceVersion += 1
                object.set(["metadata", "deletionTimestamp"], to: .string(Self.timestamp(Date())))
                if type.kind == "Pod" {
                    let grace = object.at("spec", "terminationGracePeriodSeconds")?.int ?? 30
                    object.set(["metadata", "deletionGracePeriodSeconds"], to: .number(Double(grace)))
                }
                object.set(["metadata", "resourceVersion"], to: .string(String(state.resourceVersion)))
                state.objects[key] = object
                state.deletionStartedAt[key] = Date()
                return object
            }
            state.objects.removeValue(forKey: key)
            state.specChangedAt.removeValue(forKey: key)
            state.resourceVersion += 1
            return object
        }
    }

    /// Marks a namespace Terminating; the controller removes it and its contents later. A second delete
    /// while it terminates answers 200 with the object, as a current API server does (older ones
    /// answered 409 "The system is ensuring all content is removed from this namespace").
    public func beginNamespaceDeletion(_ name: String) throws(APIError) -> JSON {
        let type = ResourceCatalog.type(group: "", version: "v1", plural: "namespaces")!
        let key = ObjectKey(type: type, namespace: nil, name: name)
        return try state.withLock { state throws(APIError) -> JSON in
            guard var object = state.objects[key] else { throw APIError.notFound(type, name) }
            guard object.at("metadata", "deletionTimestamp") == nil else { return object }
            state.resourceVersion += 1
            object.set(["metadata", "deletionTimestamp"], to: .string(Self.timestamp(Date())))
            object.set(["status", "phase"], to: "Terminating")
            object.set(["spec", "finalizers"], to: ["kubernetes"])
            object.set(["metadata", "resourceVersion"], to: .string(String(state.resourceVersion)))
            state.objects[key] = object
            state.deletionStartedAt[key] = Date()
            return object
        }
    }

    /// Writes a status change from a controller (no generation bump, no spec timestamp).
    func updateStatus(_ key: ObjectKey, _ change: (inout JSON) -> Void) {
        state.withLock { state in
            guard var object = state.objects[key] else { return }
            let before = object
            change(&object)
            guard object != before else { return }
            state.resourceVersion += 1
            object.set(["metadata", "resourceVersion"], to: .string(String(state.resourceVersion)))
            state.objects[key] = object
        }
    }

    /// Creates or replaces an object owned by a controller (pods, events).
    func upsertOwned(_ key: ObjectKey, _ object: JSON) {
        state.withLock { state in
            state.resourceVersion += 1
            var object = object
            if let existing = state.objects[key] {
                object.set(["metadata", "uid"], to: existing.at("metadata", "uid"))
                object.set(["metadata", "creationTimestamp"], to: existing.at("metadata", "creationTimestamp"))
            } else {
                object.set(["metadata", "uid"], to: .string(UUID().uuidString.lowercased()))
                object.set(["metadata", "creationTimestamp"], to: .string(Self.timestamp(Date())))
            }
            object.set(["metadata", "resourceVersion"], to: .string(String(state.resourceVersion)))
            guard state.objects[key] != object else { return }
            state.objects[key] = object
        }
    }

    func remove(_ keys: [ObjectKey]) {
        state.withLock { state in
            for key in keys {
                state.objects.removeValue(forKey: key)
                state.specChangedAt.removeValue(forKey: key)
                state.deletionStartedAt.removeValue(forKey: key)
            }
            state.resourceVersion += 1
        }
    }

    public func reset() {
        state.withLock { $0 = State() }
    }

    // MARK: - Helpers

    private static func store(_ object: JSON, replacing current: JSON, key: ObjectKey, in state: inout State) -> JSON {
        var object = object
        if key.type.kind == "Secret" { foldStringData(&object) }
        state.resourceVersion += 1
        // Identity and bookkeeping stay the server's, whatever the client sent.
        for field in ["uid", "creationTimestamp", "namespace", "name", "deletionTimestamp"] {
            object.set(["metadata", field], to: current.at("metadata", field))
        }
        object["apiVersion"] = .string(key.type.apiVersion)
        object["kind"] = .string(key.type.kind)
        object.set(["metadata", "resourceVersion"], to: .string(String(state.resourceVersion)))
        var generation = current.at("metadata", "generation")?.int ?? 1
        if object["spec"] != current["spec"] {
            generation += 1
            state.specChangedAt[key] = Date()
        }
        object.set(["metadata", "generation"], to: .number(Double(generation)))
        if object["status"] == nil { object["status"] = current["status"] }
        state.objects[key] = object
        return object
    }

    private static func checkNamespaceWritable(_ namespace: String?, in state: State) throws(APIError) {
        let type = ResourceCatalog.type(group: "", version: "v1", plural: "namespaces")!
        guard let namespace, let object = state.objects[ObjectKey(type: type, namespace: nil, name: namespace)] else {
            throw APIError.notFound(type, namespace ?? "")
        }
        if object.at("status", "phase")?.string == "Terminating" {
            throw APIError.forbidden("unable to create new content in namespace \(namespace) because it is being terminated")
        }
    }

    /// As the API server does: `stringData` is a write-only convenience, stored base64-encoded in `data`.
    static func foldStringData(_ object: inout JSON) {
        guard let strings = object["stringData"]?.objectValue else { return }
        var data = object["data"]?.objectValue ?? [:]
        for (key, value) in strings {
            if let text = value.string { data[key] = .string(Data(text.utf8).base64EncodedString()) }
        }
        object["data"] = .object(data)
        object["stringData"] = nil
    }

    static func labels(of object: JSON) -> [String: String] {
        (object.at("metadata", "labels")?.objectValue ?? [:]).compactMapValues(\.string)
    }

    static func isValidName(_ name: String, type: ResourceType) -> Bool {
        guard !name.isEmpty, name.count <= 253 else { return false }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.")
        guard name.allSatisfy(allowed.contains), let first = name.first, let last = name.last else { return false }
        return first.isLetter || first.isNumber ? (last.isLetter || last.isNumber) : false
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted))
    }
}

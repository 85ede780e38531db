import Jobs
import KubeClient

extension Provisioner {
    /// The Pod Security version store namespaces enforce: the oldest Kubernetes release Storefleet
    /// supports (its admission policies need 1.30).
    static let podSecurityVersion = "v1.30"

    /// Creates `store-<name>` labelled with the store, tenant and engine, and Pod Security Admission
    /// labels. A namespace that belongs to another store is never taken over.
    func namespaceStep() -> StepDefinition {
        StepDefinition("namespace", timeout: 30, retry: RetryPolicy(maxAttempts: 8, initialDelay: 1, maxDelay: 20)) { context in
            let store = try await self.store(context)
            let existed: Bool
            switch try await namespaceOwnership(store) {
            case .absent:
                existed = false
            case .foreign:
                throw Self.foreignNamespace(store)
            case .ours(let existing):
                if existing.at("status", "phase")?.string == "Terminating" {
                    throw StepFailure.retryable("namespace \(store.namespace) is still terminating from an earlier run; waiting for it to go", after: 5)
                }
                existed = true
            }
            // `restricted`, the strictest Pod Security profile: every pod of both charts (and their setup
            // Jobs) meets it (Tests/Scripts/test_charts.py checks each rule). The enforced version is
            // pinned, so that a cluster upgrade cannot tighten the rules under running stores unannounced;
            // warn and audit follow the latest, so a coming change shows up first.
            let namespace: JSON = [
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": [
                    "name": .string(store.namespace),
                    "labels": [
                        "app.kubernetes.io/managed-by": "storefleet",
                        "storefleet.io/store-id": .string(store.id.uuidString.lowercased()),
                        "storefleet.io/tenant-id": .string(store.tenantID.uuidString.lowercased()),
                        "storefleet.io/engine": .string(store.engine),
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": .string(Self.podSecurityVersion),
                        "pod-security.kubernetes.io/warn": "restricted",
                        "pod-security.kubernetes.io/warn-version": "latest",
                        "pod-security.kubernetes.io/audit": "restricted",
                        "pod-security.kubernetes.io/audit-version": "latest",
                    ],
                ],
            ]
            if existed {
                // Rerun: bind first (a crash may have come between the create and the bindings), then
                // converge the labels, which needs the namespace's own RoleBinding.
                try await bindStoreRoles(store.namespace)
                try await kube.apply(Paths.namespace(store.namespace), namespace)
            } else {
                // A plain create: the worker's only cluster-wide write on namespaces. Server-side apply of
                // an absent object would need patch cluster-wide as well.
                do {
                    try await kube.create("/api/v1/namespaces", namespace)
                } catch let error as KubeError where error.reason == .alreadyExists {
                    // Made between the read and the create: by a concurrent attempt for this store, or by
                    // someone else, who keeps it.
                    guard case .ours = try await namespaceOwnership(store) else { throw Self.foreignNamespace(store) }
                }
                try await bindStoreRoles(store.namespace)
            }
        }
    }

    /// The owner is not named: it may be another tenant's store.
    static func foreignNamespace(_ store: StoreRecord) -> StepFailure {
        .permanent("namespace \(store.namespace) already exists and does not belong to this store; delete it or choose another store name")
    }

    /// Creates the RoleBindings of `STORE_ROLE_BINDINGS` in a store namespace: the worker's rights inside
    /// it (every later step, helm included, depends on them) and the gateway's read of store-credentials.
    /// Each is named after its ClusterRole; one already there is this worker's from an earlier attempt
    /// (only the worker writes RBAC in store namespaces, and a roleRef cannot change).
    func bindStoreRoles(_ namespace: String) async throws {
        for binding in settings.storeRoleBindings {
            let object: JSON = [
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": [
                    "name": .string(binding.clusterRole),
                    "labels": ["app.kubernetes.io/managed-by": "storefleet"],
                ],
                "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": .string(binding.clusterRole)],
                "subjects": [["kind": "ServiceAccount", "name": .string(binding.serviceAccount), "namespace": .string(binding.namespace)]],
            ]
            do {
                try await kube.create(Paths.group("rbac.authorization.k8s.io/v1", namespace, "rolebindings"), object)
            } catch {
                guard error.reason == .alreadyExists else { throw error }
            }
        }
    }

    enum NamespaceOwnership {
        case absent
        /// Exists and carries this store's ID.
        case ours(JSON)
        /// Exists and is someone else's: another store's, or made by hand. Never changed or deleted.
        case foreign
    }

    /// The store's namespace for a delete step to act on: nil when it is gone, or when it is someone
    /// else's (then said in the step's message, `leftAlone` naming what was not done).
    func namespaceToClean(_ store: StoreRecord, _ context: StepContext, leftAlone: String) async throws -> JSON? {
        switch try await namespaceOwnership(store) {
        case .absent:
            return nil
        case .foreign:
            await context.report("namespace \(store.namespace) does not belong to this store; \(leftAlone)")
            return nil
        case .ours(let namespace):
            return namespace
        }
    }

    /// Deletes the store's namespace as just read, with its UID as a precondition. True once it is going
    /// (already terminating counts: a current API server answers a second delete with 200 and the
    /// object, older ones with 409 "The system is ensuring all content is removed"; both are taken as
    /// going); false when it was deleted and made again by someone else since.
    func deleteNamespace(_ store: StoreRecord, read namespace: JSON) async throws -> Bool {
        guard namespace.at("metadata", "deletionTimestamp") == nil else { return true }
        do {
            try await kube.delete(Paths.namespace(store.namespace), uid: namespace.at("metadata", "uid")?.string)
        } catch let error as KubeError where error.reason == .conflict {
            return !error.message.contains("Precondition failed")
        }
        return true
    }

    /// Whether the store's namespace exists and is this store's. Only a 404 means absent: a timeout or
    /// a refusal must not be mistaken for it, or a create would label, and a delete remove, a namespace
    /// it does not own.
    func namespaceOwnership(_ store: StoreRecord) async throws -> NamespaceOwnership {
        let existing: JSON
        do {
            existing = try await kube.get(Paths.namespace(store.namespace))
        } catch where error.reason == .notFound {
            return .absent
        }
        let owner = existing.at("metadata", "labels", "storefleet.io/store-id")?.string
        return owner == store.id.uuidString.lowercased() ? .ours(existing) : .foreign
    }
}

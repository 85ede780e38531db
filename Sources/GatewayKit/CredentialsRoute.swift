import Foundation
import Hummingbird
import KubeClient
import Postgres

/// What `GET /api/stores/:id/credentials` answers: read from the store's Secret at request time, never
/// stored in Postgres, never logged.
struct StoreCredentials: Encodable {
    let store: String
    let adminURL: String
    let username: String
    let password: String
    let email: String?

    enum CodingKeys: String, CodingKey {
        case store
        case adminURL = "admin_url"
        case username, password, email
    }
}

extension Gateway {
    func addCredentialsRoute(to api: RouterGroup<GatewayContext>) {
        api.get("stores/:id/credentials") { request, context in try await storeCredentials(request, context) }
    }

    func storeCredentials(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try uuidParameter(context, what: "store")
        let row = try await postgres.withConnection { try await visibleStore(id, caller: caller, on: $0) }
        let store = try StoreView(row: row, settings: settings)
        guard store.status != "deleted" else { throw Problem.conflict("store-deleted", "store \(store.name) is deleted; its credentials are gone") }
        // Each read calls the cluster and writes an audit row: it spends the tenant's request budget
        // like a write does.
        try await rateLimiter.take(tenant: caller.tenantID)
        guard let kube else {
            throw Problem(.serviceUnavailable, "no-cluster", "Service Unavailable",
                          detail: "the gateway has no cluster configured (KUBECONFIG or an in-cluster service account), so it cannot read store credentials")
        }
        let secret: JSON
        do {
            secret = try await kube.get("/api/v1/namespaces/\(store.namespace)/secrets/store-credentials")
        } catch let error as KubeError where error.reason == .notFound {
            throw Problem.conflict("credentials-not-ready", "store \(store.name) has no credentials yet; they are created by its secrets step")
        } catch let error as KubeError where error.reason == .forbidden {
            // The gateway reads only in namespaces whose namespace step bound it (charts/platform,
            // templates/rbac.yaml), so before that step has run, RBAC answers 403 where an admin would
            // get 404: still being made, unless the store's secrets step says otherwise.
            guard try await secretsStepSucceeded(id) else {
                throw Problem.conflict("credentials-not-ready", "store \(store.name) has no credentials yet; they are created by its secrets step")
            }
            throw Problem.conflict("credentials-not-readable", "the gateway may not read Secrets in namespace \(store.namespace): it is granted each store namespace by that store's namespace step, which has not bound it there (retry the store if its create failed early)")
        } catch let error as KubeError {
            throw Problem(.badGateway, "cluster-error", "Bad Gateway", detail: "the cluster did not answer as expected: \(error.reason.rawValue) (\(error.code))")
        }
        // The namespace is named after the store, so it may be another owner's: a store whose create
        // stopped at "namespace … does not belong to this store" must not read that owner's Secret. The
        // worker labels the Secret with the store's ID; one without the label (made before the label
        // was) counts only if this store's own secrets step succeeded.
        let storeID = id.uuidString.lowercased()
        if let label = secret.at("metadata", "labels", "storefleet.io/store-id")?.string {
            guard label == storeID else {
                throw Problem.conflict("credentials-not-owned", "the Secret in namespace \(store.namespace) does not belong to store \(store.name)")
            }
        } else {
            guard try await secretsStepSucceeded(id) else {
                throw Problem.conflict("credentials-not-owned", "the Secret in namespace \(store.namespace) was not made for store \(store.name)")
            }
        }
        func value(_ key: String) -> String? {
            secret.at("data", key)?.string.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
        }
        guard let username = value("admin-username"), let password = value("admin-password") else {
            throw Problem.conflict("credentials-not-ready", "store \(store.name)'s Secret lacks admin-username or admin-password")
        }
        try await postgres.withConnection { connection in
            try await Audit.record("store.credentials.view", target: "store", id.uuidString.lowercased(), details: ["name": store.name],
                                   caller: caller, context: context,
                                   tenant: try row.decode("tenant_id", as: UUID.self), on: connection)
        }
        var response = JSONCoding.response(StoreCredentials(store: id.lower, adminURL: store.urls.admin, username: username, password: password, email: value("admin-email")))
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// Whether a job of the store has run its secrets step to success.
    func secretsStepSucceeded(_ store: UUID) async throws -> Bool {
        try await postgres.withConnection { connection in
            try await connection.query("""
                SELECT 1 FROM job_steps s JOIN jobs j ON j.id = s.job_id
                WHERE j.store_id = \(store) AND s.name = 'secrets' AND s.status = 'succeeded' LIMIT 1
                """).first != nil
        }
    }
}

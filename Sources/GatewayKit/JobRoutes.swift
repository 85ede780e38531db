import Foundation
import Hummingbird
import Jobs
import Postgres

extension Gateway {
    func addJobRoutes(to api: RouterGroup<GatewayContext>) {
        api.get("jobs/:id") { request, context -> Response in
            let caller = try context.requireCaller()
            let id = try uuidParameter(context, what: "job")
            let include = request.uri.queryParameters.get("include")
            guard include == nil || include == "transitions" else {
                throw Problem.validation([.init("include", "the only value is transitions")])
            }
            // Another tenant's job answers as a missing one.
            let snapshot = include == "transitions"
                ? try await queue.snapshot(id, includeTransitions: true) : try await reads.jobs.submit(id)
            guard let snapshot, caller.isAdmin || snapshot.tenantID == caller.tenantID else { throw Problem.notFound("job \(id.lower)") }
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: JobView(snapshot).json())))
        }
        api.get("jobs") { request, context -> Response in
            let caller = try context.requireCaller()
            let limit = try limitParameter(request)
            guard let text = request.uri.queryParameters.get("store") else {
                throw Problem.validation([.init("store", "is required: the store whose jobs to list")])
            }
            guard let store = UUID(uuidString: text) else { throw Problem.notFound("store \(text)") }
            var cursor: UUID?
            if let text = request.uri.queryParameters.get("cursor") {
                guard let id = UUID(uuidString: text) else { throw Problem.validation([.init("cursor", "is not a cursor this API returned")]) }
                cursor = id
            }
            // Newest first, keyset-paginated on (created_at, id) like the store list: the cursor is the
            // last job's ID, so pages stay stable while new jobs arrive.
            let rows = try await postgres.withConnection { connection in
                _ = try await visibleStore(store, caller: caller, on: connection)
                return try await connection.query("""
                    SELECT id, kind, status, current_step, error, created_at, started_at, finished_at
                    FROM jobs
                    WHERE store_id = \(store)
                      AND (\(cursor)::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM jobs WHERE id = \(cursor)::uuid AND store_id = \(store)))
                    ORDER BY created_at DESC, id DESC LIMIT \(limit + 1)
                    """).rows
            }
            let jobs = try rows.prefix(limit).map(JobSummary.init(row:))
            return JSONCoding.response(Page(items: jobs, nextCursor: rows.count > limit ? jobs.last?.id : nil))
        }
        api.get("audit") { request, context -> Response in
            let caller = try context.requireCaller()
            let limit = try limitParameter(request)
            var cursor: Int?
            if let text = request.uri.queryParameters.get("cursor") {
                guard let value = Int(text), value >= 0 else { throw Problem.validation([.init("cursor", "is not a cursor this API returned")]) }
                cursor = value
            }
            // Tenant-scoped: members see their tenant's trail, admins everyone's. An admin's action on a
            // member's store is in the member's trail, but not the admin's token or address.
            let rows = try await postgres.query("""
                SELECT a.id, a.tenant_id, a.token_id, a.action, a.target_type, a.target_id, a.client_ip, a.request_id, a.details, a.at,
                       (k.tenant_id IS DISTINCT FROM a.tenant_id) AS other_tenants_token
                FROM audit_events a LEFT JOIN api_tokens k ON k.id = a.token_id
                WHERE (\(caller.isAdmin) OR a.tenant_id = \(caller.tenantID)) AND (\(cursor)::bigint IS NULL OR a.id < \(cursor)::bigint)
                ORDER BY a.id DESC LIMIT \(limit + 1)
                """).rows
            let events = try rows.prefix(limit).map { row in
                var event = try AuditEventView(row: row)
                if !caller.isAdmin, try row.decode("other_tenants_token", as: Bool.self), event.tokenId != nil {
                    event.tokenId = nil
                    event.clientIp = nil
                    event.byAdmin = true
                }
                return event
            }
            return JSONCoding.response(Page(items: events, nextCursor: rows.count > limit ? events.last.map { String($0.id) } : nil))
        }
    }
}

struct AuditEventView: Codable, Sendable {
    var id: Int
    var tenantId: String?
    var tokenId: String?
    var action: String
    var targetType: String
    var targetId: String?
    var clientIp: String?
    var requestId: String?
    var details: [String: String]
    var at: Date
    /// Set on a member's trail for what a platform admin did there; the admin's token and address
    /// are not shown to the member.
    var byAdmin: Bool?

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        tenantId = try row.decode("tenant_id", as: UUID?.self)?.lower
        tokenId = try row.decode("token_id", as: UUID?.self)?.lower
        action = try row.decode("action")
        targetType = try row.decode("target_type")
        targetId = try row.decode("target_id")
        clientIp = try row.decode("client_ip")
        requestId = try row.decode("request_id")
        details = (try? row.decode("details", as: PostgresJSON.self).decode([String: String].self)) ?? [:]
        at = try row.decode("at")
    }
}

import Foundation
import Hummingbird
import Jobs
import Platform
import Postgres

/// POST /api/stores/:id/suspend and /resume. A suspended store runs nothing and keeps its data. A
/// tenant may suspend and resume its own stores; an administrator any store, and a store an
/// administrator suspended (abuse, unpaid bills) stays suspended until an administrator resumes it.
extension Gateway {
    func addSuspensionRoutes(to api: RouterGroup<GatewayContext>) {
        api.post("stores/:id/suspend") { request, context in try await suspendStore(request, context) }
        api.post("stores/:id/resume") { request, context in try await resumeStore(request, context) }
    }

    func suspendStore(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let id = try uuidParameter(context, what: "store")
        let body = try await JSONBody.read(request, allowEmpty: true)
        try body.onlyFields(["reason"])
        var errors: [Problem.FieldError] = []
        let reason = body.string("reason", errors: &errors, required: false)
        if let reason, reason.unicodeScalars.count > 500 || reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            errors.append(.init("reason", "must be at most 500 characters, without control characters"))
        }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        return try await mutating(request, context, body: body.bytes) { caller, seal in
            let pending = try await queue.enqueue { connection, enqueuer -> PendingAnswer in
                let store = try await visibleStore(id, caller: caller, on: connection, forUpdate: true)
                let owner: UUID = try store.decode("tenant_id")
                let status: String = try store.decode("status")
                if status == "suspended", caller.isAdmin, try store.decode("suspended_by", as: String?.self) == "tenant" {
                    // An administrator takes over a tenant's own suspension (the abuse case): nothing runs
                    // to stop, but from now on only an administrator may resume the store.
                    let updated = try await connection.query("""
                        UPDATE stores SET suspended_by = 'admin', suspension_reason = coalesce(\(reason), suspension_reason), updated_at = now()
                        WHERE id = \(id) RETURNING *
                        """).first!
                    try await Audit.record("store.suspend", target: "store", id.lower, details: [
                        "name": try store.decode("name", as: String.self), "by": "admin", "reason": reason ?? "", "outcome": "taken over from the tenant",
                    ], caller: caller, context: context, tenant: owner, on: connection)
                    let view = APIResult(StoreAccepted(store: try StoreView(row: updated, settings: settings), job: nil))
                    return PendingAnswer(sealed: seal.isKeyed ? try await seal(view, on: connection) : view, row: updated, job: nil)
                }
                guard status == "ready" else {
                    throw Problem.conflict("store-busy", "only a ready store can be suspended; this one is \(status)")
                }
                try await requireNoUnfinishedJob(id, on: connection)
                let by = caller.isAdmin ? "admin" : "tenant"
                let updated = try await connection.query("""
                    UPDATE stores SET status = 'suspending', suspended_by = \(by), suspension_reason = \(reason), last_error = NULL, updated_at = now()
                    WHERE id = \(id) RETURNING *
                    """).first!
                let job = NewJob(kind: StoreJobKinds.suspendKind, steps: StoreJobKinds.suspendSteps, storeID: id, tenantID: owner)
                try await enqueuer.insert(job, on: connection)
                try await Audit.record("store.suspend", target: "store", id.lower, details: [
                    "name": try store.decode("name", as: String.self), "job_id": job.id.lower, "by": by, "reason": reason ?? "",
                ], caller: caller, context: context, tenant: owner, on: connection)
                return try await accepted(updated, job: job.id, seal: seal, on: connection)
            }
            return try await answer(pending)
        }
    }

    func resumeStore(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let id = try uuidParameter(context, what: "store")
        let body = try await JSONBody.read(request, allowEmpty: true)
        try body.onlyFields([])
        return try await mutating(request, context, body: body.bytes) { caller, seal in
            let pending = try await queue.enqueue { connection, enqueuer -> PendingAnswer in
                let store = try await visibleStore(id, caller: caller, on: connection, forUpdate: true)
                let owner: UUID = try store.decode("tenant_id")
                let status: String = try store.decode("status")
                guard status == "suspended" else {
                    throw Problem.conflict("not-suspended", "only a suspended store can be resumed; this one is \(status)")
                }
                if try store.decode("suspended_by", as: String?.self) == "admin", !caller.isAdmin {
                    throw Problem.forbidden("a platform administrator suspended this store; only an administrator can resume it")
                }
                try await requireNoUnfinishedJob(id, on: connection)
                let updated = try await connection.query("""
                    UPDATE stores SET status = 'resuming', last_error = NULL, updated_at = now() WHERE id = \(id) RETURNING *
                    """).first!
                let job = NewJob(kind: StoreJobKinds.resumeKind, steps: StoreJobKinds.resumeSteps, storeID: id, tenantID: owner)
                try await enqueuer.insert(job, on: connection)
                try await Audit.record("store.resume", target: "store", id.lower, details: [
                    "name": try store.decode("name", as: String.self), "job_id": job.id.lower,
                ], caller: caller, context: context, tenant: owner, on: connection)
                return try await accepted(updated, job: job.id, seal: seal, on: connection)
            }
            return try await answer(pending)
        }
    }

    /// A store with a job still queued or running (a retry on its way) is busy: `409 store-busy`.
    func requireNoUnfinishedJob(_ store: UUID, on connection: PostgresConnection) async throws {
        if let busy = try await connection.query("""
            SELECT id, kind FROM jobs WHERE store_id = \(store) AND status IN ('queued', 'running', 'retrying') LIMIT 1
            """).first {
            throw Problem.conflict("store-busy", "job \(try busy.decode("id", as: UUID.self).lower) (\(try busy.decode("kind", as: String.self))) of this store has not ended; try again when it has")
        }
    }
}

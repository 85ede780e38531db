import Foundation
import Hummingbird
import Jobs
import Platform
import Postgres

extension Gateway {
    func addStoreRoutes(to api: RouterGroup<GatewayContext>) {
        api.post("stores") { request, context in try await createStore(request, context) }
        api.get("stores") { request, context in try await listStores(request, context) }
        api.get("stores/:id") { request, context in try await getStore(request, context) }
        api.delete("stores/:id") { request, context in try await deleteStore(request, context) }
        api.post("stores/:id/retry") { request, context in try await retryStore(request, context) }
        api.patch("stores/:id") { request, context in try await updateStore(request, context) }
        api.get("stores/:id/revisions") { request, context in try await storeRevisions(request, context) }
        api.get("plans") { request, context in try await listPlans(request, context) }
        addSuspensionRoutes(to: api)
        addRolloutRoutes(to: api)
    }

    // MARK: - POST /api/stores

    func createStore(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let body = try await JSONBody.read(request)
        try body.onlyFields(["name", "engine", "plan"])
        var errors: [Problem.FieldError] = []
        let name = body.string("name", errors: &errors)
        let engine = body.string("engine", errors: &errors)
        let plan = body.string("plan", errors: &errors, required: false) ?? settings.plans.defaultPlan
        if let name, let problem = StoreRules.nameProblem(name) { errors.append(.init("name", problem)) }
        if let engine, !StoreRules.engines.contains(engine) {
            errors.append(.init("engine", "must be one of \(StoreRules.engines.joined(separator: ", "))"))
        }
        // Whether the tenant may use the plan is checked with its row locked, below.
        if let engine, StoreRules.engines.contains(engine), let problem = settings.plans.refusal(plan: plan, engine: engine, allowed: nil) {
            errors.append(.init("plan", problem))
        }
        guard errors.isEmpty, let name, let engine else { throw Problem.validation(errors) }

        return try await mutating(request, context, body: body.bytes) { caller, seal in
            let storeID = UUID()
            let namespace = "store-\(name)"
            let urls = StoreView.expectedURLs(name: name, engine: engine, settings: settings)
            let payload = try PostgresJSON(encoding: [
                "name": name, "engine": engine, "namespace": namespace, "storefront_url": urls.storefront, "admin_url": urls.admin,
            ])
            let job = NewJob(kind: StoreJobKinds.createKind, steps: StoreJobKinds.createSteps, storeID: storeID, tenantID: caller.tenantID, payload: payload.text)
            let pending = try await queue.enqueue { connection, enqueuer in
                // The partial unique index on live names decides races between tenants.
                let inserted: PostgresRow?
                do {
                    inserted = try await connection.query("""
                        INSERT INTO stores (id, tenant_id, name, engine, status, namespace, plan)
                        VALUES (\(storeID), \(caller.tenantID), \(name), \(engine), 'provisioning', \(namespace), \(plan))
                        ON CONFLICT (name) WHERE status <> 'deleted' DO NOTHING
                        RETURNING *
                        """).first
                } catch let error as PostgresError where error.sqlState == "23503" {
                    throw Problem.unauthorized("the token's tenant no longer exists")
                }
                guard let row = inserted else {
                    throw Problem(.conflict, "name-taken", "Conflict", detail: "a live store is already named \(name)",
                                  errors: [.init("name", "is already taken by a live store")])
                }
                try await enqueuer.insert(job, on: connection)
                try await connection.query("""
                    INSERT INTO store_revisions (store_id, revision, plan, job_id, tenant_id, token_id, outcome)
                    VALUES (\(storeID), 1, \(plan), \(job.id), \(caller.tenantID), \(caller.tokenID), 'pending')
                    """)
                try await Audit.record("store.create", target: "store", storeID.uuidString.lowercased(),
                                       details: ["name": name, "engine": engine, "plan": plan, "job_id": job.id.uuidString.lowercased()],
                                       caller: caller, context: context, on: connection)
                // The answer, and the Idempotency-Key sealed with it, before the tenant's lock: the limit
                // check below can only refuse (rolling all of this back), never change the answer.
                let pending = try await accepted(row, job: job.id, seal: seal, on: connection)
                // Last, so that a tenant's creates wait on each other only for this call and the commit:
                // the tenant's row is locked, then its live stores (this one included) are counted. A
                // create over the limit rolls back, leaving nothing behind.
                // The tenant's allowed plans come with it, read under the same lock (migration 0018).
                guard let limits = try await connection.query("SELECT * FROM tenant_live_stores_locked(\(caller.tenantID))").first else {
                    throw Problem.unauthorized("the token's tenant no longer exists")
                }
                let limit = try limits.decode("store_limit", as: Int.self)
                let live = try limits.decode("live", as: Int.self)
                guard live <= limit else {
                    throw Problem.conflict("store-limit", "this tenant already has \(live - 1) live stores, its limit is \(limit); delete one first")
                }
                try requireAllowedPlan(plan, engine: engine, allowed: try limits.decode("allowed_plans", as: PostgresTextArray?.self)?.elements)
                return pending
            }
            return try await answer(pending)
        }
    }

    // MARK: - GET /api/stores

    func listStores(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let caller = try context.requireCaller()
        let limit = try limitParameter(request)
        let status = request.uri.queryParameters.get("status")
        if let status, !StoreRules.statuses.contains(status) {
            throw Problem.validation([.init("status", "must be one of \(StoreRules.statuses.joined(separator: ", "))")])
        }
        var cursor: UUID?
        if let text = request.uri.queryParameters.get("cursor") {
            guard let id = UUID(uuidString: text) else { throw Problem.validation([.init("cursor", "is not a cursor this API returned")]) }
            cursor = id
        }
        // Newest first, keyset-paginated on (created_at, id): the cursor is the last store's ID.
        let rows = try await postgres.query("""
            SELECT * FROM stores
            WHERE (\(caller.isAdmin) OR tenant_id = \(caller.tenantID))
              AND (\(status)::text IS NULL OR status = \(status)::text)
              AND (\(cursor)::uuid IS NULL OR (created_at, id) < (
                    SELECT created_at, id FROM stores WHERE id = \(cursor)::uuid AND (\(caller.isAdmin) OR tenant_id = \(caller.tenantID))))
            ORDER BY created_at DESC, id DESC
            LIMIT \(limit + 1)
            """).rows
        let stores = try rows.prefix(limit).map { try StoreView(row: $0, settings: settings) }
        let next = rows.count > limit ? stores.last?.id : nil
        return JSONCoding.response(Page(items: stores, nextCursor: next))
    }

    // MARK: - GET /api/stores/:id

    func getStore(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try uuidParameter(context, what: "store")
        let (row, jobID) = try await postgres.withConnection { connection in
            let row = try await visibleStore(id, caller: caller, on: connection)
            return (row, try await latestJob(store: id, on: connection))
        }
        var store = try StoreView(row: row, settings: settings)
        store.latestJob = try await jobView(jobID)
        return JSONCoding.response(store)
    }

    // MARK: - DELETE /api/stores/:id

    func deleteStore(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let id = try uuidParameter(context, what: "store")
        let body = try await JSONBody.read(request, allowEmpty: true)
        try body.onlyFields([])
        return try await mutating(request, context, body: body.bytes) { caller, seal in
            let job = NewJob(kind: StoreJobKinds.deleteKind, steps: StoreJobKinds.deleteSteps, storeID: id, payload: "{}")
            let pending = try await queue.enqueue { connection, enqueuer -> PendingAnswer in
                let store = try await visibleStore(id, caller: caller, on: connection, forUpdate: true)
                let owner: UUID = try store.decode("tenant_id")
                let status: String = try store.decode("status")
                if status == "deleted" || status == "deleting" {
                    // Already gone or going: nothing new to do; answer with the delete that is (or was) running.
                    let existing = try await connection.query("""
                        SELECT id FROM jobs WHERE store_id = \(id) AND kind = \(StoreJobKinds.deleteKind) ORDER BY created_at DESC LIMIT 1
                        """).first?.decode("id", as: UUID.self)
                    try await Audit.record("store.delete", target: "store", id.uuidString.lowercased(), details: ["name": try store.decode("name", as: String.self), "outcome": "already \(status)"],
                                           caller: caller, context: context, tenant: owner, on: connection)
                    return try await accepted(store, job: existing, seal: seal, on: connection)
                }
                let updated = try await connection.query("""
                    UPDATE stores SET status = 'deleting', updated_at = now() WHERE id = \(id) RETURNING *
                    """).first!
                // A delete supersedes a running create (docs/architecture.md): cancel it in this transaction.
                var deleteJob = job
                deleteJob.tenantID = owner
                let cancelled = try await queue.store.requestCancelActive(
                    store: id, except: nil, reason: "superseded by delete job \(job.id.uuidString.lowercased())", on: connection)
                try await enqueuer.insert(deleteJob, on: connection)
                try await Audit.record("store.delete", target: "store", id.uuidString.lowercased(),
                                       details: ["name": try store.decode("name", as: String.self), "job_id": job.id.uuidString.lowercased(),
                                                 "cancelled_jobs": "\(cancelled.count)"],
                                       caller: caller, context: context, tenant: owner, on: connection)
                return try await accepted(updated, job: job.id, seal: seal, on: connection)
            }
            return try await answer(pending)
        }
    }

    // MARK: - POST /api/stores/:id/retry

    /// Re-runs the store's failed job from its failed step: the job goes back to `queued` at the same
    /// `current_step` (finished steps never run again), and is dispatched after commit.
    func retryStore(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let id = try uuidParameter(context, what: "store")
        let body = try await JSONBody.read(request, allowEmpty: true)
        try body.onlyFields([])
        return try await mutating(request, context, body: body.bytes) { caller, seal in
            let (pending, jobID) = try await postgres.transaction { connection -> (PendingAnswer, UUID) in
                let store = try await visibleStore(id, caller: caller, on: connection, forUpdate: true)
                guard try store.decode("status", as: String.self) == "failed" else {
                    throw Problem.conflict("not-failed", "only a failed store can be retried; this one is \(try store.decode("status", as: String.self))")
                }
                guard let job = try await connection.query("""
                    SELECT id, kind, status, current_step FROM jobs WHERE store_id = \(id) ORDER BY created_at DESC LIMIT 1 FOR UPDATE
                    """).first, try job.decode("status", as: String.self) == "failed" else {
                    throw Problem.conflict("not-failed", "the store's latest job has not failed")
                }
                let jobID: UUID = try job.decode("id")
                let kind: String = try job.decode("kind")
                guard let step = try await queue.store.requeueFailed(jobID, on: connection) else {
                    throw Problem.conflict("not-failed", "the store's latest job has not failed")
                }
                let resumed = [StoreJobKinds.deleteKind: "deleting", StoreJobKinds.updateKind: "updating", StoreJobKinds.suspendKind: "suspending",
                               StoreJobKinds.resumeKind: "resuming"][kind] ?? "provisioning"
                let updated = try await connection.query("""
                    UPDATE stores SET status = \(resumed), last_error = NULL, updated_at = now()
                    WHERE id = \(id) RETURNING *
                    """).first!
                // The revision the job applies is in progress again (an update's rollback resumes where
                // it stopped: its reason to roll back stays recorded).
                try await connection.query("""
                    UPDATE store_revisions SET outcome = 'pending', finished_at = NULL
                    WHERE store_id = \(id) AND job_id = \(jobID) AND outcome = 'failed'
                    """)
                try await Audit.record("store.retry", target: "store", id.uuidString.lowercased(),
                                       details: ["name": try store.decode("name", as: String.self), "job_id": jobID.uuidString.lowercased(), "from_step": "\(step)"],
                                       caller: caller, context: context, tenant: try store.decode("tenant_id"), on: connection)
                return (try await accepted(updated, job: jobID, seal: seal, on: connection), jobID)
            }
            await queue.dispatch([jobID])
            return try await answer(pending)
        }
    }

    /// The store routes' 202, decided inside the change's transaction. With an Idempotency-Key it is
    /// built there and sealed with the change (it must commit with it); without one it is built after
    /// commit from the coalesced job reads, as every other read is: a query of its own per create, inside
    /// the transaction, cost creates a quarter of their throughput.
    func accepted(_ row: PostgresRow, job: UUID?, seal: Seal, on connection: PostgresConnection) async throws -> PendingAnswer {
        guard seal.isKeyed else { return PendingAnswer(sealed: nil, row: row, job: job) }
        var view: JobView?
        if let job { view = try await queue.store.snapshots([job], on: connection)[job].map(JobView.init) }
        let result = APIResult(StoreAccepted(store: try StoreView(row: row, settings: settings), job: view), status: .accepted,
                               location: job.map { "/api/jobs/\($0.lower)" })
        return PendingAnswer(sealed: try await seal(result, on: connection), row: row, job: job)
    }

    func answer(_ pending: PendingAnswer) async throws -> APIResult {
        if let sealed = pending.sealed { return sealed }
        return APIResult(StoreAccepted(store: try StoreView(row: pending.row, settings: settings), job: try await jobView(pending.job)),
                         status: .accepted, location: pending.job.map { "/api/jobs/\($0.lower)" })
    }
}

/// A store route's answer as its transaction left it: sealed already, or to be built after commit.
struct PendingAnswer: Sendable {
    let sealed: APIResult?
    let row: PostgresRow
    let job: UUID?
}

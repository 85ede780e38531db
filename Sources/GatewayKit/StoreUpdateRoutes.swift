import Foundation
import Hummingbird
import Jobs
import Platform
import Postgres

/// Day two: changing a store's plan or versions, its revision history, and the plans on offer.
extension Gateway {
    // MARK: - PATCH /api/stores/:id

    /// Asks for a new revision of a ready store: its plan and/or versions. 202 with the update job; the
    /// store stays on its live revision until the job applies the new one, and goes back to it (rolled
    /// back) when the new one does not become ready. A spec equal to the live one changes nothing (200).
    func updateStore(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let id = try uuidParameter(context, what: "store")
        let body = try await JSONBody.read(request)
        try body.onlyFields(["plan", "chart_version", "app_version"])
        var errors: [Problem.FieldError] = []
        let plan = body.string("plan", errors: &errors, required: false)
        let chartVersion = body.string("chart_version", errors: &errors, required: false)
        let appVersion = body.string("app_version", errors: &errors, required: false)
        if errors.isEmpty, plan == nil, chartVersion == nil, appVersion == nil {
            errors.append(.init("plan", "give at least one of plan, chart_version and app_version"))
        }
        if let plan, settings.plans.plans[plan] == nil {
            errors.append(.init("plan", "must be one of \(settings.plans.plans.keys.sorted().joined(separator: ", "))"))
        }
        if let chartVersion, let problem = StoreSpec.chartVersionProblem(chartVersion) { errors.append(.init("chart_version", problem)) }
        if let appVersion, let problem = StoreSpec.appVersionProblem(appVersion) { errors.append(.init("app_version", problem)) }
        guard errors.isEmpty else { throw Problem.validation(errors) }

        return try await mutating(request, context, body: body.bytes) { caller, seal in
            let pending = try await queue.enqueue { connection, enqueuer -> PendingAnswer in
                let store = try await visibleStore(id, caller: caller, on: connection, forUpdate: true)
                let owner: UUID = try store.decode("tenant_id")
                let engine: String = try store.decode("engine")
                do {
                    try await StoreUpdateRequest.requireIdle(store, on: connection)
                } catch let refusal as StoreUpdateRequest.Refusal {
                    throw Problem.conflict(refusal.slug, refusal.message)
                }
                let live = try StoreUpdateRequest.liveSpec(store)
                let target = StoreSpec(plan: plan ?? live.plan, chartVersion: chartVersion ?? live.chartVersion, appVersion: appVersion ?? live.appVersion)
                // A tenant keeps to its allowed plans; an administrator may move any store to any plan
                // the platform offers (an upgrade sold, an abusive store shrunk).
                if let problem = settings.plans.refusal(plan: target.plan, engine: engine, allowed: nil) {
                    throw Problem.validation([.init("plan", problem)])
                }
                if !caller.isAdmin, target.plan != live.plan {
                    try await requireAllowedPlan(target.plan, engine: engine, tenant: owner, on: connection)
                }
                let outcome = try await StoreUpdateRequest.enqueue(store, target: target, asker: .init(tenantID: caller.tenantID, tokenID: caller.tokenID),
                                                                   on: connection, enqueuer: enqueuer)
                guard case .enqueued(let job, let number) = outcome else {
                    let view = APIResult(StoreAccepted(store: try StoreView(row: store, settings: settings), job: nil))
                    return PendingAnswer(sealed: seal.isKeyed ? try await seal(view, on: connection) : view, row: store, job: nil)
                }
                let updated = try await connection.query("SELECT * FROM stores WHERE id = \(id)").first!
                try await Audit.record("store.update", target: "store", id.lower, details: [
                    "name": try store.decode("name", as: String.self), "job_id": job.lower, "revision": "\(number)",
                    "from": StoreUpdateRequest.describe(live), "to": StoreUpdateRequest.describe(target),
                ], caller: caller, context: context, tenant: owner, on: connection)
                return try await accepted(updated, job: job, seal: seal, on: connection)
            }
            return try await answer(pending)
        }
    }

    /// Refuses (422 on `plan`) a plan the tenant is not allowed; the tenant's row is read as it stands.
    func requireAllowedPlan(_ plan: String, engine: String, tenant: UUID, on connection: PostgresConnection) async throws {
        guard let row = try await connection.query("SELECT allowed_plans FROM tenants WHERE id = \(tenant)").first else {
            throw Problem.unauthorized("the token's tenant no longer exists")
        }
        try requireAllowedPlan(plan, engine: engine, allowed: try row.decode("allowed_plans", as: PostgresTextArray?.self)?.elements)
    }

    /// The same with the tenant's allowed plans already read (nil: any plan).
    func requireAllowedPlan(_ plan: String, engine: String, allowed: [String]?) throws {
        if let problem = settings.plans.refusal(plan: plan, engine: engine, allowed: allowed) {
            throw Problem.validation([.init("plan", problem)])
        }
    }

    // MARK: - GET /api/stores/:id/revisions

    /// The store's revisions, newest first, paged with `cursor` (the last revision number seen).
    func storeRevisions(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try uuidParameter(context, what: "store")
        let limit = try limitParameter(request)
        var cursor: Int?
        if let text = request.uri.queryParameters.get("cursor") {
            guard let number = Int(text), (1...Int(Int32.max)).contains(number) else { throw Problem.validation([.init("cursor", "is not a cursor this API returned")]) }
            cursor = number
        }
        let rows = try await postgres.withConnection { connection in
            _ = try await visibleStore(id, caller: caller, on: connection)
            return try await connection.query("""
                SELECT * FROM store_revisions
                WHERE store_id = \(id) AND (\(cursor)::integer IS NULL OR revision < \(cursor)::integer)
                ORDER BY revision DESC LIMIT \(limit + 1)
                """).rows
        }
        // Who asked is the caller's own business: a member is not shown the token (or tenant) of an
        // administrator who changed its store, only that someone else did.
        let revisions = try rows.prefix(limit).map { row -> RevisionView in
            var view = try RevisionView(row: row)
            if !caller.isAdmin, let asker = view.tenantId, asker != caller.tenantID.lower {
                view.tenantId = nil
                view.tokenId = nil
                view.askedByAnotherTenant = true
            }
            return view
        }
        let next = rows.count > limit ? revisions.last.map { String($0.revision) } : nil
        return JSONCoding.response(Page(items: revisions, nextCursor: next))
    }

    // MARK: - GET /api/plans

    /// The plans on offer, each with its guardrails per engine, the default marked, and whether the
    /// caller's tenant may put stores on it.
    func listPlans(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let caller = try context.requireCaller()
        let allowed = try await postgres.query("SELECT allowed_plans FROM tenants WHERE id = \(caller.tenantID)").first?
            .decode("allowed_plans", as: PostgresTextArray?.self)?.elements
        let plans = settings.plans.plans.values.sorted { $0.name < $1.name }.map { plan in
            PlanView(
                name: plan.name, description: plan.description, isDefault: plan.name == settings.plans.defaultPlan,
                allowed: caller.isAdmin || allowed.map { $0.contains(plan.name) } ?? true,
                engines: plan.engines.mapValues { engine in
                    PlanView.Guardrails(
                        requestsCpu: engine.quota.requestsCPU, requestsMemory: engine.quota.requestsMemory,
                        limitsCpu: engine.quota.limitsCPU, limitsMemory: engine.quota.limitsMemory,
                        pods: engine.quota.pods, storage: engine.quota.storage, maxVolume: engine.quota.maxVolumeSize)
                })
        }
        return JSONCoding.response(PlanPage(items: plans))
    }
}

/// A plan as the API shows it.
struct PlanView: Codable, Sendable {
    struct Guardrails: Codable, Sendable {
        var requestsCpu: String
        var requestsMemory: String
        var limitsCpu: String
        var limitsMemory: String
        var pods: Int
        var storage: String
        var maxVolume: String
    }

    var name: String
    var description: String
    var isDefault: Bool
    /// Whether the caller's tenant may put stores on it (always, for administrators).
    var allowed: Bool
    var engines: [String: Guardrails]
}

struct PlanPage: Codable, Sendable {
    var items: [PlanView]
}

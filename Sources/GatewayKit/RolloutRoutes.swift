import Foundation
import Hummingbird
import Jobs
import KubeClient
import Platform
import Postgres

/// Fleet rollouts (administrators): a new chart and/or application version across the stores a
/// selector picks, in waves with a canary first, halting when a wave fails past its threshold.
extension Gateway {
    func addRolloutRoutes(to api: RouterGroup<GatewayContext>) {
        api.post("rollouts") { request, context in try await createRollout(request, context) }
        api.get("rollouts") { request, context in try await listRollouts(request, context) }
        api.get("rollouts/:id") { _, context in try await getRollout(context) }
        api.post("rollouts/:id/resume") { request, context in try await resumeRollout(request, context) }
        api.post("rollouts/:id/cancel") { request, context in try await cancelRollout(request, context) }
        api.post("rollouts/:id/halt") { request, context in try await haltRollout(request, context) }
    }

    // MARK: - POST /api/rollouts

    func createRollout(_ request: Request, _ context: GatewayContext) async throws -> Response {
        _ = try requireAdmin(context)
        let body = try await JSONBody.read(request)
        try body.onlyFields(["target", "selector", "strategy"])
        guard case .object(let root) = try JSON(parsing: Data(body.bytes), uniqueKeys: true) else { throw Problem.malformed("the body must be a JSON object") }
        var errors: [Problem.FieldError] = []
        let target = Self.rolloutTarget(root["target"], errors: &errors)
        let selector = Self.rolloutSelector(root["selector"], plans: settings.plans, errors: &errors)
        let strategy = Self.rolloutStrategy(root["strategy"], errors: &errors)
        guard errors.isEmpty, let target, let selector, let strategy else { throw Problem.validation(errors) }

        return try await mutating(request, context, body: body.bytes) { caller, seal in
            let id = UUID()
            let job = NewJob(kind: StoreJobKinds.rolloutKind, steps: StoreJobKinds.rolloutSteps, tenantID: caller.tenantID,
                             payload: #"{"rollout":"\#(id.lower)"}"#)
            let result = try await queue.enqueue { connection, enqueuer -> APIResult in
                // One rollout at a time: two would race for the same stores, and the second's canary
                // would say nothing about the first's version.
                _ = try await connection.query("SELECT pg_advisory_xact_lock(\(Self.rolloutLock))")
                if let active = try await connection.query("SELECT id, status FROM rollouts WHERE status IN ('running', 'halted') LIMIT 1").first {
                    throw Problem.conflict("rollout-active", "rollout \(try active.decode("id", as: UUID.self).lower) is \(try active.decode("status", as: String.self)); finish, resume or cancel it first")
                }
                let ids = selector.storeIds.map { PostgresTextArray($0.map(\.lower)) }
                let stores = try await connection.query("""
                    SELECT id FROM stores
                    WHERE status <> 'deleted'
                      AND (\(selector.engine)::text IS NULL OR engine = \(selector.engine)::text)
                      AND (\(selector.tenantId)::uuid IS NULL OR tenant_id = \(selector.tenantId)::uuid)
                      AND (\(selector.plan)::text IS NULL OR plan = \(selector.plan)::text)
                      AND (\(ids)::uuid[] IS NULL OR id = ANY(\(ids)::uuid[]))
                    ORDER BY created_at, id
                    """).rows.map { try $0.decode("id", as: UUID.self) }
                // Both refusals depend on the fleet as it is now, not on the request's form: 409.
                guard !stores.isEmpty else {
                    throw Problem.conflict("empty-selection", "the selector matches no live store")
                }
                // Versions are one engine's: a WooCommerce image tag on a Medusa store only breaks it.
                let engines = try await connection.query("""
                    SELECT DISTINCT engine FROM stores WHERE id = ANY(\(PostgresTextArray(stores.map(\.lower)))::uuid[])
                    """).rows.map { try $0.decode("engine", as: String.self) }
                guard engines.count == 1 else {
                    throw Problem.conflict("mixed-engines", "the selector matches stores of several engines (\(engines.sorted().joined(separator: ", "))); versions are one engine's, so add selector.engine")
                }
                let waves = strategy.waves(count: stores.count)
                let encoder = JSONEncoder()
                encoder.outputFormatting = .sortedKeys
                try await connection.query("""
                    INSERT INTO rollouts (id, status, target, selector, strategy, job_id, tenant_id, token_id)
                    VALUES (\(id), 'running', \(String(decoding: try encoder.encode(target), as: UTF8.self))::jsonb,
                            \(String(decoding: try encoder.encode(selector), as: UTF8.self))::jsonb,
                            \(String(decoding: try encoder.encode(strategy), as: UTF8.self))::jsonb, \(job.id), \(caller.tenantID), \(caller.tokenID))
                    """)
                try await connection.query("""
                    INSERT INTO rollout_stores (rollout_id, store_id, wave, position, status)
                    SELECT \(id), s.id, w.wave, s.n, 'pending'
                    FROM unnest(\(PostgresTextArray(stores.map(\.lower)))::uuid[]) WITH ORDINALITY AS s(id, n)
                    JOIN unnest(\(PostgresTextArray(waves.map(String.init)))::int[]) WITH ORDINALITY AS w(wave, n) ON w.n = s.n
                    """)
                try await enqueuer.insert(job, on: connection)
                try await Audit.record("rollout.create", target: "rollout", id.lower, details: [
                    "job_id": job.id.lower, "stores": "\(stores.count)", "waves": "\(Set(waves).count)",
                    "to": [target.chartVersion.map { "chart \($0)" }, target.appVersion.map { "app \($0)" }].compactMap { $0 }.joined(separator: ", "),
                ], caller: caller, context: context, on: connection)
                let view = try await rolloutView(id, on: connection)
                return try await seal(APIResult(view, status: .accepted, location: "/api/rollouts/\(id.lower)"), on: connection)
            }
            return result
        }
    }

    /// The advisory lock key that serializes rollout creation ("rollouts" in ASCII).
    static let rolloutLock: Int64 = 0x726F6C6C6F757473

    static func rolloutTarget(_ value: JSON?, errors: inout [Problem.FieldError]) -> RolloutTarget? {
        guard case .object(let fields)? = value else {
            errors.append(.init("target", "is required: an object with chart_version and/or app_version"))
            return nil
        }
        var target = RolloutTarget()
        for (key, field) in fields {
            switch (key, field) {
            case ("chart_version", .string(let text)):
                if let problem = StoreSpec.chartVersionProblem(text) { errors.append(.init("target.chart_version", problem)) }
                target.chartVersion = text
            case ("app_version", .string(let text)):
                if let problem = StoreSpec.appVersionProblem(text) { errors.append(.init("target.app_version", problem)) }
                target.appVersion = text
            case ("chart_version", _), ("app_version", _): errors.append(.init("target.\(key)", "must be a string"))
            default: errors.append(.init("target.\(key)", "unknown field"))
            }
        }
        if target.chartVersion == nil && target.appVersion == nil {
            errors.append(.init("target", "give chart_version, app_version or both"))
        }
        return target
    }

    static func rolloutSelector(_ value: JSON?, plans: PlanCatalog, errors: inout [Problem.FieldError]) -> RolloutSelector? {
        guard let value else { return RolloutSelector() }
        guard case .object(let fields) = value else {
            errors.append(.init("selector", "must be an object"))
            return nil
        }
        var selector = RolloutSelector()
        for (key, field) in fields {
            switch (key, field) {
            case ("engine", .string(let text)):
                if !StoreRules.engines.contains(text) { errors.append(.init("selector.engine", "must be one of \(StoreRules.engines.joined(separator: ", "))")) }
                selector.engine = text
            case ("plan", .string(let text)):
                if plans.plans[text] == nil { errors.append(.init("selector.plan", "must be one of \(plans.plans.keys.sorted().joined(separator: ", "))")) }
                selector.plan = text
            case ("tenant_id", .string(let text)):
                guard let id = UUID(uuidString: text) else {
                    errors.append(.init("selector.tenant_id", "must be a UUID"))
                    continue
                }
                selector.tenantId = id
            case ("store_ids", .array(let items)):
                let ids = items.compactMap { $0.string.flatMap(UUID.init(uuidString:)) }
                if ids.count != items.count || !(1...300).contains(ids.count) {
                    errors.append(.init("selector.store_ids", "must be 1 to 300 store IDs (select more with engine, tenant or plan)"))
                }
                selector.storeIds = ids
            case ("engine", _), ("plan", _), ("tenant_id", _), ("store_ids", _):
                errors.append(.init("selector.\(key)", key == "store_ids" ? "must be an array of store IDs" : "must be a string"))
            default: errors.append(.init("selector.\(key)", "unknown field"))
            }
        }
        return selector
    }

    static func rolloutStrategy(_ value: JSON?, errors: inout [Problem.FieldError]) -> RolloutStrategy? {
        guard let value else { return RolloutStrategy() }
        guard case .object(let fields) = value else {
            errors.append(.init("strategy", "must be an object"))
            return nil
        }
        var strategy = RolloutStrategy()
        let ranges: [String: ClosedRange<Int>] = [
            "canary": 0...100, "wave_size": 1...10_000, "wave_percent": 1...100, "max_parallel": 1...100, "failure_threshold": 0...10_000,
        ]
        for (key, field) in fields {
            guard let range = ranges[key] else {
                errors.append(.init("strategy.\(key)", "unknown field"))
                continue
            }
            guard case .number(let number) = field, number == number.rounded(), range.contains(Int(exactly: number) ?? -1) else {
                errors.append(.init("strategy.\(key)", "must be an integer from \(range.lowerBound) to \(range.upperBound)"))
                continue
            }
            let count = Int(number)
            switch key {
            case "canary": strategy.canary = count
            case "wave_size": strategy.waveSize = count
            case "wave_percent": strategy.wavePercent = count
            case "max_parallel": strategy.maxParallel = count
            default: strategy.failureThreshold = count
            }
        }
        if fields["wave_size"] != nil {
            if fields["wave_percent"] != nil { errors.append(.init("strategy.wave_size", "give wave_size or wave_percent, not both")) }
            strategy.wavePercent = nil
        }
        return strategy
    }

    // MARK: - reads

    func listRollouts(_ request: Request, _ context: GatewayContext) async throws -> Response {
        _ = try requireAdmin(context)
        let limit = try limitParameter(request)
        let views = try await postgres.withConnection { connection in
            var views: [RolloutView] = []
            for row in try await connection.query("SELECT id FROM rollouts ORDER BY created_at DESC, id DESC LIMIT \(limit)").rows {
                var view = try await rolloutView(try row.decode("id"), on: connection)
                view.failedStores = nil
                views.append(view)
            }
            return views
        }
        return JSONCoding.response(RolloutPage(items: views))
    }

    func getRollout(_ context: GatewayContext) async throws -> Response {
        _ = try requireAdmin(context)
        let id = try uuidParameter(context, what: "rollout")
        return JSONCoding.response(try await postgres.withConnection { connection in try await rolloutView(id, on: connection) })
    }

    func rolloutView(_ id: UUID, on connection: PostgresConnection) async throws -> RolloutView {
        guard let row = try await connection.query("SELECT * FROM rollouts WHERE id = \(id)").first else { throw Problem.notFound("rollout \(id.lower)") }
        let stores = try await connection.query("""
            SELECT r.store_id, s.name, r.wave, r.status, r.job_id, r.message
            FROM rollout_stores r JOIN stores s ON s.id = r.store_id WHERE r.rollout_id = \(id) ORDER BY r.wave, r.position
            """).rows
        return try RolloutView(row: row, stores: stores)
    }

    // MARK: - POST /api/rollouts/:id/halt, /resume and /cancel

    /// Goes on with a halted rollout: the failures of the waves done so far are accepted, and its job
    /// runs again from the wave it stopped at.
    func resumeRollout(_ request: Request, _ context: GatewayContext) async throws -> Response {
        try await rolloutAction(request, context, audit: "rollout.resume") { connection, id, status, job in
            guard status == "halted" else { throw Problem.conflict("not-halted", "only a halted rollout can be resumed; this one is \(status)") }
            guard try await queue.store.requeueFailed(job, on: connection) != nil else {
                throw Problem.conflict("not-halted", "the rollout's job has not failed")
            }
            try await connection.query("""
                UPDATE rollouts SET status = 'running', reason = NULL, halt_requested = false, updated_at = now(),
                    -- The failures of the waves that have ended are accepted; a wave still under way (an
                    -- operator's halt mid-wave) keeps its threshold.
                    accepted_through = greatest(accepted_through, coalesce(
                        (SELECT min(wave) - 1 FROM rollout_stores WHERE rollout_id = \(id) AND status IN ('pending', 'updating')),
                        (SELECT max(wave) FROM rollout_stores WHERE rollout_id = \(id))))
                WHERE id = \(id)
                """)
            return [job]
        }
    }

    /// Pauses a running rollout: its job halts at its next pass (within seconds), starting no more
    /// stores; updates already running finish. Resume goes on from there.
    func haltRollout(_ request: Request, _ context: GatewayContext) async throws -> Response {
        try await rolloutAction(request, context, audit: "rollout.halt") { connection, id, status, _ in
            guard status == "running" else { throw Problem.conflict("not-running", "only a running rollout can be halted; this one is \(status)") }
            try await connection.query("UPDATE rollouts SET halt_requested = true, updated_at = now() WHERE id = \(id)")
            return []
        }
    }

    /// Stops a rollout: no store not yet started is; updates already running finish (each with its
    /// own rollback).
    func cancelRollout(_ request: Request, _ context: GatewayContext) async throws -> Response {
        try await rolloutAction(request, context, audit: "rollout.cancel") { connection, id, status, job in
            switch status {
            case "running":
                // A running job stops at its next checkpoint; a waiting one ends here. Either way its
                // cancellation hook (StoreJobHooks) marks the rollout and its pending stores.
                _ = try await queue.store.requestCancel(job, reason: "rollout cancelled on request", on: connection)
            case "halted":
                try await StoreJobHooks.markRolloutCancelled(id, on: connection)
            default:
                throw Problem.conflict("rollout-ended", "the rollout is \(status) already")
            }
            return []
        }
    }

    /// What every operator action on a rollout shares: an admin, an empty body, the idempotency seal,
    /// the rollout's row locked for the action's transaction, an audit entry, and the rollout as it
    /// now stands as the 202 answer. `act` gets the rollout's ID, status and job, and returns the jobs
    /// to dispatch once the transaction has committed.
    private func rolloutAction(
        _ request: Request, _ context: GatewayContext, audit action: String,
        _ act: @escaping @Sendable (PostgresConnection, UUID, _ status: String, _ job: UUID) async throws -> [UUID]
    ) async throws -> Response {
        _ = try requireAdmin(context)
        let id = try uuidParameter(context, what: "rollout")
        let body = try await JSONBody.read(request, allowEmpty: true)
        try body.onlyFields([])
        return try await mutating(request, context, body: body.bytes) { caller, seal in
            let (result, jobs) = try await postgres.transaction { connection -> (APIResult, [UUID]) in
                guard let row = try await connection.query("SELECT status, job_id FROM rollouts WHERE id = \(id) FOR UPDATE").first else {
                    throw Problem.notFound("rollout \(id.lower)")
                }
                let job: UUID = try row.decode("job_id")
                let jobs = try await act(connection, id, try row.decode("status"), job)
                try await Audit.record(action, target: "rollout", id.lower, details: ["job_id": job.lower], caller: caller, context: context, on: connection)
                let view = try await rolloutView(id, on: connection)
                return (try await seal(APIResult(view, status: .accepted, location: "/api/rollouts/\(id.lower)"), on: connection), jobs)
            }
            await queue.dispatch(jobs)
            return result
        }
    }
}

/// A rollout as the API shows it: what, which stores, how, and where it stands per wave.
struct RolloutView: Codable, Sendable {
    struct Target: Codable, Sendable {
        var chartVersion: String?
        var appVersion: String?
    }

    struct Wave: Codable, Sendable {
        var wave: Int
        var canary: Bool
        var stores: Int
        /// Per store status: pending, updating, updated, unchanged, rolled-back, failed, skipped.
        var counts: [String: Int]
        /// pending, running, done.
        var status: String
    }

    struct StoreOutcome: Codable, Sendable {
        var storeId: String
        var name: String
        var wave: Int
        var status: String
        var jobId: String?
        var message: String?
    }

    var id: String
    var status: String
    var target: Target
    var selector: [String: String]
    var strategy: [String: Int]
    var jobId: String
    var reason: String?
    /// An operator asked it to halt; its job has not yet.
    var haltRequested: Bool
    var stores: Int
    var counts: [String: Int]
    var waves: [Wave]
    /// The stores that did not take the new version (rolled back, failed) or were skipped.
    var failedStores: [StoreOutcome]?
    var createdAt: Date
    var updatedAt: Date
    var finishedAt: Date?

    init(row: PostgresRow, stores: [PostgresRow]) throws {
        id = try row.decode("id", as: UUID.self).lower
        status = try row.decode("status")
        let decoder = JSONDecoder()
        let target = try decoder.decode(RolloutTarget.self, from: Data(try row.decode("target", as: String.self).utf8))
        self.target = Target(chartVersion: target.chartVersion, appVersion: target.appVersion)
        let selector = try decoder.decode(RolloutSelector.self, from: Data(try row.decode("selector", as: String.self).utf8))
        var shown: [String: String] = [:]
        if let engine = selector.engine { shown["engine"] = engine }
        if let plan = selector.plan { shown["plan"] = plan }
        if let tenant = selector.tenantId { shown["tenant_id"] = tenant.lower }
        if let ids = selector.storeIds { shown["store_ids"] = ids.map(\.lower).joined(separator: ",") }
        self.selector = shown
        let strategy = try decoder.decode(RolloutStrategy.self, from: Data(try row.decode("strategy", as: String.self).utf8))
        var numbers = ["canary": strategy.canary, "max_parallel": strategy.maxParallel, "failure_threshold": strategy.failureThreshold]
        if let size = strategy.waveSize { numbers["wave_size"] = size }
        if let percent = strategy.wavePercent { numbers["wave_percent"] = percent }
        self.strategy = numbers
        jobId = try row.decode("job_id", as: UUID.self).lower
        reason = try row.decode("reason")
        haltRequested = try row.decode("halt_requested")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        finishedAt = try row.decode("finished_at")

        var outcomes: [StoreOutcome] = []
        var byWave: [Int: [String]] = [:]
        for store in stores {
            let outcome = StoreOutcome(storeId: try store.decode("store_id", as: UUID.self).lower, name: try store.decode("name"), wave: try store.decode("wave"),
                                       status: try store.decode("status"), jobId: try store.decode("job_id", as: UUID?.self)?.lower, message: try store.decode("message"))
            byWave[outcome.wave, default: []].append(outcome.status)
            outcomes.append(outcome)
        }
        self.stores = outcomes.count
        counts = Dictionary(grouping: outcomes, by: \.status).mapValues(\.count)
        waves = byWave.keys.sorted().map { wave in
            let statuses = byWave[wave]!
            let open = statuses.filter { ["pending", "updating"].contains($0) }.count
            return Wave(wave: wave, canary: wave == 0, stores: statuses.count, counts: Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count),
                        status: open == 0 ? "done" : open == statuses.count && !statuses.contains("updating") ? "pending" : "running")
        }
        failedStores = outcomes.filter { ["rolled-back", "failed", "skipped"].contains($0.status) }
    }
}

struct RolloutPage: Codable, Sendable {
    var items: [RolloutView]
}

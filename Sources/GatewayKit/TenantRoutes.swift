import Foundation
import Hummingbird
import Postgres

extension Gateway {
    /// Tenants and their tokens; admin only. A member gets 403 (it is authenticated, and these routes
    /// are not per-tenant resources whose existence could leak).
    func addTenantRoutes(to api: RouterGroup<GatewayContext>) {
        api.post("tenants") { request, context -> Response in
            let caller = try requireAdmin(context)
            let body = try await JSONBody.read(request)
            try body.onlyFields(["name", "role", "store_limit", "allowed_plans"])
            var errors: [Problem.FieldError] = []
            let name = body.string("name", errors: &errors)
            let allowedPlans = body.stringArray("allowed_plans", errors: &errors).value
            checkPlans(allowedPlans, errors: &errors)
            let role = body.string("role", errors: &errors, required: false) ?? "member"
            let limit = body.integer("store_limit", errors: &errors) ?? 5
            if let name, name.count < 2 || name.count > 63 || !name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) {
                errors.append(.init("name", "must be 2 to 63 lowercase letters, digits or '-'"))
            }
            if name == Self.bootstrapTenant { errors.append(.init("name", "is reserved for the bootstrap admin")) }
            if !["admin", "member"].contains(role) { errors.append(.init("role", "must be admin or member")) }
            if !(0...1000).contains(limit) { errors.append(.init("store_limit", "must be from 0 to 1000")) }
            guard errors.isEmpty, let name else { throw Problem.validation(errors) }
            return try await mutating(request, context, body: body.bytes) { _, seal in
                let id = UUID()
                return try await postgres.transaction { connection in
                    guard let row = try await connection.query("""
                        INSERT INTO tenants (id, name, role, store_limit, allowed_plans)
                        VALUES (\(id), \(name), \(role), \(limit), \(allowedPlans.map(PostgresTextArray.init)))
                        ON CONFLICT (name) DO NOTHING RETURNING *
                        """).first else {
                        throw Problem(.conflict, "name-taken", "Conflict", detail: "a tenant is already named \(name)", errors: [.init("name", "is taken")])
                    }
                    try await Audit.record("tenant.create", target: "tenant", id.uuidString.lowercased(), details: ["name": name, "role": role, "allowed_plans": allowedPlans?.joined(separator: ",") ?? "all"],
                                           caller: caller, context: context, tenant: id, on: connection)
                    return try await seal(APIResult(try TenantView(row: row), status: .created, location: "/api/tenants/\(id.uuidString.lowercased())"), on: connection)
                }
            }
        }

        // Every tenant, by name: what an operator (or `storefleet tenants list`) looks a tenant's ID up in.
        // Tenants are few (one per customer), so the list is not paged.
        api.get("tenants") { _, context -> Response in
            _ = try requireAdmin(context)
            let rows = try await postgres.query("SELECT * FROM tenants ORDER BY name").rows
            return JSONCoding.response(TenantPage(items: try rows.map(TenantView.init(row:))))
        }

        // Changes a tenant's store limit. Lowering it below the live count deletes nothing; it only
        // stops new stores until the tenant is under the limit again.
        api.patch("tenants/:id") { request, context -> Response in
            let caller = try requireAdmin(context)
            let tenant = try uuidParameter(context, what: "tenant")
            let body = try await JSONBody.read(request)
            try body.onlyFields(["store_limit", "allowed_plans"])
            var errors: [Problem.FieldError] = []
            let limit = body.integer("store_limit", errors: &errors)
            let plans = body.stringArray("allowed_plans", errors: &errors)
            // `{"store_limit": null}` changes nothing, as null means "unchanged"; `{}` asks for nothing.
            if body.object.isEmpty { errors.append(.init("store_limit", "give store_limit, allowed_plans or both")) }
            if let limit, !(0...1000).contains(limit) { errors.append(.init("store_limit", "must be from 0 to 1000")) }
            checkPlans(plans.value, errors: &errors)
            guard errors.isEmpty else { throw Problem.validation(errors) }
            // Through `mutating` like every change that takes an Idempotency-Key: a late retry of an
            // older change replays its answer instead of overwriting a newer one.
            return try await mutating(request, context, body: body.bytes) { _, seal in
                try await postgres.transaction { connection in
                    // Narrowing a tenant's plans moves none of its stores; it only limits new ones and changes.
                    guard let row = try await connection.query("""
                        UPDATE tenants SET store_limit = coalesce(\(limit), store_limit),
                                           allowed_plans = CASE WHEN \(plans.given) THEN \(plans.value.map(PostgresTextArray.init))::text[] ELSE allowed_plans END
                        WHERE id = \(tenant) RETURNING *
                        """).first else { throw Problem.notFound("tenant \(tenant.lower)") }
                    var details: [String: String] = [:]
                    if let limit { details["store_limit"] = "\(limit)" }
                    if plans.given { details["allowed_plans"] = plans.value?.joined(separator: ",") ?? "all" }
                    try await Audit.record("tenant.update", target: "tenant", tenant.lower, details: details,
                                           caller: caller, context: context, tenant: tenant, on: connection)
                    return try await seal(APIResult(try TenantView(row: row)), on: connection)
                }
            }
        }

        // Token issuance takes no Idempotency-Key: replaying it would mean storing the token to show it
        // again, and a token is shown once. A lost response is fixed by revoking and issuing another.
        api.post("tenants/:id/tokens") { request, context -> Response in
            let caller = try requireAdmin(context)
            let tenant = try uuidParameter(context, what: "tenant")
            let body = try await JSONBody.read(request, allowEmpty: true)
            try body.onlyFields(["name", "expires_at"])
            var errors: [Problem.FieldError] = []
            let name = body.string("name", errors: &errors, required: false) ?? ""
            let expiresAt = body.string("expires_at", errors: &errors, required: false).flatMap { text -> Date? in
                guard let date = TokenExpiry.parse(text) else {
                    errors.append(.init("expires_at", "must be an RFC 3339 date-time such as 2027-01-31T00:00:00Z"))
                    return nil
                }
                if let problem = TokenExpiry.check(date) { errors.append(.init("expires_at", problem)) }
                return date
            }
            // Counted as JSON Schema's maxLength counts (code points), so the document and the server agree.
            if name.unicodeScalars.count > 100 { errors.append(.init("name", "must be at most 100 characters")) }
            if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                errors.append(.init("name", "must not contain control characters"))
            }
            // The gateway retires the admin tenant's tokens named so whenever BOOTSTRAP_ADMIN_TOKEN changes.
            if name == "bootstrap" { errors.append(.init("name", "\"bootstrap\" is reserved for the token from BOOTSTRAP_ADMIN_TOKEN")) }
            guard errors.isEmpty else { throw Problem.validation(errors) }
            guard request.headers[IdempotencyKeys.header] == nil else {
                throw Problem(.badRequest, "idempotency-not-supported", "Idempotency-Key not supported",
                              detail: "tokens are shown once, so token issuance cannot be replayed; send it without Idempotency-Key")
            }
            try await rateLimiter.take(tenant: caller.tenantID)
            let token = APIToken.generate()
            let id = UUID()
            let created = try await postgres.transaction { connection -> Date in
                guard try await connection.query("SELECT 1 FROM tenants WHERE id = \(tenant)").first != nil else {
                    throw Problem.notFound("tenant \(tenant.lower)")
                }
                let created = try await connection.query("""
                    INSERT INTO api_tokens (id, tenant_id, name, prefix, token_hash, expires_at)
                    VALUES (\(id), \(tenant), \(name), \(APIToken.displayPrefix(token)), \(APIToken.hash(token)), \(expiresAt))
                    RETURNING created_at
                    """).first!.decode("created_at", as: Date.self)
                var details = ["name": name]
                if let expiresAt { details["expires_at"] = Timestamp.string(expiresAt) }
                try await Audit.record("token.issued", target: "token", id.uuidString.lowercased(), details: details,
                                       caller: caller, context: context, tenant: tenant, on: connection)
                return created
            }
            var response = JSONCoding.response(
                IssuedToken(id: id.lower, tenantId: tenant.lower, name: name, prefix: APIToken.displayPrefix(token), token: token,
                            createdAt: created, expiresAt: expiresAt),
                status: .created
            )
            // The token is shown once: no cache on the way may keep a copy.
            response.headers[.cacheControl] = "no-store"
            return response
        }

        // A tenant's tokens, newest first: what each is for, when it was last used, when it expires, and
        // whether it still works. Never the token or its digest. Revoked and expired tokens stay listed
        // until retention removes them (RETENTION_REVOKED_TOKENS), so people can see what lost access.
        api.get("tenants/:id/tokens") { _, context -> Response in
            _ = try requireAdmin(context)
            let tenant = try uuidParameter(context, what: "tenant")
            let rows = try await postgres.transaction { connection -> [PostgresRow] in
                guard try await connection.query("SELECT 1 FROM tenants WHERE id = \(tenant)").first != nil else {
                    throw Problem.notFound("tenant \(tenant.lower)")
                }
                return try await connection.query("""
                    SELECT id, tenant_id, name, prefix, created_at, last_used_at, expires_at, revoked_at,
                           CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
                                WHEN expires_at <= now() THEN 'expired' ELSE 'active' END AS state
                    FROM api_tokens WHERE tenant_id = \(tenant) ORDER BY created_at DESC, id
                    """).rows
            }
            return JSONCoding.response(TokenPage(items: try rows.map(TokenView.init(row:))))
        }

        api.delete("tenants/:id/tokens/:token") { request, context -> Response in
            let tenant = try uuidParameter(context, what: "tenant")
            let tokenID = try uuidParameter(context, "token", what: "token")
            _ = try requireAdmin(context)
            return try await mutating(request, context, body: []) { caller, seal in
                try await postgres.transaction { connection in
                    guard try await connection.query("""
                        UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = \(tokenID) AND tenant_id = \(tenant) RETURNING id
                        """).first != nil else { throw Problem.notFound("token \(tokenID.lower)") }
                    try await Audit.record("token.revoked", target: "token", tokenID.uuidString.lowercased(),
                                           caller: caller, context: context, tenant: tenant, on: connection)
                    return try await seal(APIResult(["id": tokenID.uuidString.lowercased(), "revoked": "true"]), on: connection)
                }
            }
        }
    }

    func requireAdmin(_ context: GatewayContext) throws -> Caller {
        let caller = try context.requireCaller()
        guard caller.isAdmin else { throw Problem.forbidden("only an admin may manage tenants and tokens") }
        return caller
    }
}

extension Gateway {
    /// Allowed plans must be plans the platform offers, each named once.
    func checkPlans(_ plans: [String]?, errors: inout [Problem.FieldError]) {
        guard let plans else { return }
        if let unknown = plans.first(where: { settings.plans.plans[$0] == nil }) {
            errors.append(.init("allowed_plans", "\(unknown) is not a plan; plans are \(settings.plans.plans.keys.sorted().joined(separator: ", "))"))
        } else if Set(plans).count != plans.count {
            errors.append(.init("allowed_plans", "names a plan twice"))
        }
    }
}

struct TenantView: Codable, Sendable {
    var id: String
    var name: String
    var role: String
    var storeLimit: Int
    /// The plans its stores may be put on; absent: every plan.
    var allowedPlans: [String]?
    var createdAt: Date

    init(row: PostgresRow) throws {
        id = try row.decode("id", as: UUID.self).lower
        name = try row.decode("name")
        role = try row.decode("role")
        storeLimit = try row.decode("store_limit")
        allowedPlans = try row.decode("allowed_plans", as: PostgresTextArray?.self)?.elements
        createdAt = try row.decode("created_at")
    }
}

struct IssuedToken: Codable, Sendable {
    var id: String
    var tenantId: String
    var name: String
    var prefix: String
    var token: String
    var createdAt: Date
    var expiresAt: Date?
}

/// A token as listings show it: everything but the secret.
struct TokenView: Codable, Sendable {
    var id: String
    var tenantId: String
    var name: String
    var prefix: String
    var state: String
    var createdAt: Date
    var lastUsedAt: Date?
    var expiresAt: Date?
    var revokedAt: Date?

    init(row: PostgresRow) throws {
        id = try row.decode("id", as: UUID.self).lower
        tenantId = try row.decode("tenant_id", as: UUID.self).lower
        name = try row.decode("name")
        prefix = try row.decode("prefix")
        state = try row.decode("state")
        createdAt = try row.decode("created_at")
        lastUsedAt = try row.decode("last_used_at")
        expiresAt = try row.decode("expires_at")
        revokedAt = try row.decode("revoked_at")
    }
}

struct TenantPage: Codable, Sendable {
    var items: [TenantView]
}

struct TokenPage: Codable, Sendable {
    var items: [TokenView]
}

/// When a token may expire: RFC 3339 on input, at least a minute and at most five years ahead (a date
/// in the past or in the year 20270 is a mistake, not a wish).
enum TokenExpiry {
    static let shortest: TimeInterval = 60
    static let longest: TimeInterval = 5 * 366 * 86_400

    static func parse(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }

    static func check(_ date: Date, now: Date = Date()) -> String? {
        let ahead = date.timeIntervalSince(now)
        if ahead < shortest { return "must be at least a minute in the future" }
        if ahead > longest { return "must be at most five years in the future" }
        return nil
    }
}

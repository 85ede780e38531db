import Foundation
import HTTPTypes
import Hummingbird
import Jobs
import Platform
import KubeClient
import Logging
import Postgres
import Redis
import ServiceRuntime

/// The gateway's HTTP API: its dependencies and the router that serves it.
public struct Gateway: Sendable {
    public let postgres: PostgresPool
    public let redis: RedisClient
    public let settings: APISettings
    public let queue: JobQueue
    public let metrics: GatewayMetrics
    let logger: Logger
    let idempotency: IdempotencyKeys
    let rateLimiter: RateLimiter
    let reads: CoalescedReads
    /// Open event streams per tenant on this replica, each with when it opened: an entry whose stream
    /// never ran (the client left before the body started) ages out after the streams' maximum age.
    let openStreams = LockedState([UUID: [UUID: ContinuousClock.Instant]]())
    /// Reads store Secrets for the credentials endpoint; nil when no cluster is configured.
    let kube: KubeClient?

    public init(postgres: PostgresPool, redis: RedisClient, settings: APISettings, logger: Logger, kube: KubeClient? = nil) {
        self.kube = kube
        self.postgres = postgres
        self.redis = redis
        self.settings = settings
        self.logger = logger
        self.queue = JobQueue(postgres: postgres, redis: redis, keys: RedisKeys(prefix: settings.redisKeyPrefix), logger: logger,
                              cancelHooks: StoreJobHooks.onCancelled)
        self.metrics = GatewayMetrics()
        self.idempotency = IdempotencyKeys(postgres: postgres, ttl: settings.idempotencyTTL)
        self.reads = CoalescedReads(postgres: postgres, store: queue.store, logger: logger)
        self.rateLimiter = RateLimiter(redis: redis, prefix: settings.redisKeyPrefix, burst: settings.rateLimitBurst, perMinute: settings.rateLimitPerMinute, logger: logger)
    }

    /// Creates (or re-enables) the bootstrap admin tenant and its token, stored hashed. Safe on every
    /// start-up and from several replicas at once.
    public func bootstrapAdmin() async throws {
        guard let token = settings.bootstrapAdminToken else { return }
        try await postgres.transaction { connection in
            // Never promote an existing tenant: a member that happened to be named like the bootstrap
            // tenant must not become an admin because of a setting.
            try await connection.query("""
                INSERT INTO tenants (id, name, role) VALUES (\(UUID()), \(Self.bootstrapTenant), 'admin') ON CONFLICT (name) DO NOTHING
                """)
            let row = try await connection.query("SELECT id, role FROM tenants WHERE name = \(Self.bootstrapTenant)").first!
            guard try row.decode("role", as: String.self) == "admin" else {
                throw BootstrapError(description: "tenant \(Self.bootstrapTenant) exists and is not an admin; refusing to attach the bootstrap token to it")
            }
            let tenant: UUID = try row.decode("id")
            try await connection.query("""
                INSERT INTO api_tokens (id, tenant_id, name, prefix, token_hash)
                VALUES (\(UUID()), \(tenant), 'bootstrap', \(APIToken.displayPrefix(token)), \(APIToken.hash(token)))
                ON CONFLICT (token_hash) DO NOTHING
                """)
            // Rotating the setting retires the previous bootstrap token; a bootstrap token revoked through
            // the API stays revoked (the insert above does not revive it).
            try await connection.query("""
                UPDATE api_tokens SET revoked_at = now()
                WHERE tenant_id = \(tenant) AND name = 'bootstrap' AND token_hash <> \(APIToken.hash(token)) AND revoked_at IS NULL
                """)
        }
    }

    public static let bootstrapTenant = "admin"

    /// The configured dashboard folder, else the copy bundled as a resource of this module.
    var dashboardDirectory: String? {
        if let directory = settings.dashboardDirectory { return directory }
        return Bundle.module.url(forResource: "Dashboard", withExtension: nil)?.path
    }

    public struct BootstrapError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The API's router; `metrics: false` when `/metrics` is served on a port of its own
    /// (`buildMetricsRouter`).
    public func buildRouter(metrics withMetrics: Bool = true) -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        let table = RouteTable()
        // With tracing on (OTEL_*), a server span per request around everything else, continuing an
        // incoming `traceparent`; the jobs a request enqueues carry its context (JobStore.insert). It
        // records the request ID, never a credential or a body. Off: not installed at all.
        if Telemetry.enabled {
            router.add(middleware: TracingMiddleware(recordingHeaders: [HTTPField.Name("X-Request-ID")!]))
        }
        router.add(middleware: RequestIDMiddleware(metrics: metrics, routes: table))
        addOperationalRoutes(to: router, metrics: withMetrics)
        // Files are looked up only for paths no route answers, so the API always wins.
        if let dashboard = dashboardDirectory {
            router.add(middleware: DashboardHeadersMiddleware())
            router.add(middleware: FileMiddleware(dashboard, cacheControl: .init([(MediaType(type: .any), [.noCache])]), searchForIndexHtml: true, logger: logger))
        }
        addOpenAPIRoute(to: router)
        let api = router.group("api").add(middleware: AuthMiddleware(reads: reads))
        addStatsRoute(to: api)
        addStatsSeriesRoute(to: api)
        addSessionRoute(to: api)
        addStoreRoutes(to: api)
        addCredentialsRoute(to: api)
        addJobRoutes(to: api)
        addTenantRoutes(to: api)
        addEventRoutes(to: api)
        table.set(router)
        return router
    }

    // MARK: - Shared handler plumbing

    /// Every mutating request goes through here: rate limit, then the idempotency key, then the handler.
    /// A handler that throws leaves nothing behind (its transaction rolled back, its key released). A
    /// handler must call `seal` with its response inside the transaction of its change.
    func mutating(
        _ request: Request, _ context: GatewayContext, body: [UInt8],
        _ handler: (Caller, Seal) async throws -> APIResult
    ) async throws -> Response {
        let caller = try context.requireCaller()
        let key = request.headers[IdempotencyKeys.header]
        if let key { try IdempotencyKeys.validate(key) }
        try await rateLimiter.take(tenant: caller.tenantID)
        guard let key else { return try await handler(caller, Seal(keys: idempotency, claim: nil)).response() }
        let hash = sha256(Array("\(request.method.rawValue) \(request.uri.path)\n".utf8) + body)
        switch try await idempotency.begin(tenant: caller.tenantID, key: key, requestHash: hash) {
        case .replay(let result):
            return result.response(replayed: true)
        case .proceed(let owner):
            let seal = Seal(keys: idempotency, claim: (caller.tenantID, key, owner))
            let result: APIResult
            do {
                result = try await handler(caller, seal)
            } catch {
                await idempotency.abandon(tenant: caller.tenantID, key: key, owner: owner)
                throw error
            }
            guard seal.isSealed else {
                // A handler that forgot to seal would leave its key in flight, to be taken over later
                // and its change made twice: a programming error, refused loudly in development.
                assertionFailure("handler for \(request.method) \(request.uri.path) returned without sealing its Idempotency-Key")
                await idempotency.abandon(tenant: caller.tenantID, key: key, owner: owner)
                return result.response()
            }
            return result.response()
        }
    }

    /// A path parameter that must be a UUID; anything else names nothing, so it is a 404.
    func uuidParameter(_ context: GatewayContext, _ name: String = "id", what: String) throws -> UUID {
        guard let text = context.parameters.get(name), let id = UUID(uuidString: text) else { throw Problem.notFound(what) }
        return id
    }

    /// Reads a store the caller may see. Another tenant's store answers exactly as a missing one, so
    /// IDs cannot be probed across tenants.
    func visibleStore(_ id: UUID, caller: Caller, on connection: PostgresConnection, forUpdate: Bool = false) async throws -> PostgresRow {
        let query: PostgresQuery = forUpdate
            ? "SELECT * FROM stores WHERE id = \(id) AND (\(caller.isAdmin) OR tenant_id = \(caller.tenantID)) FOR UPDATE"
            : "SELECT * FROM stores WHERE id = \(id) AND (\(caller.isAdmin) OR tenant_id = \(caller.tenantID))"
        guard let row = try await connection.query(query).first else { throw Problem.notFound("store \(id.lower)") }
        return row
    }

    func latestJob(store: UUID, on connection: PostgresConnection) async throws -> UUID? {
        try await connection.query("SELECT id FROM jobs WHERE store_id = \(store) ORDER BY created_at DESC LIMIT 1").first?.decode("id", as: UUID.self)
    }

    func jobView(_ id: UUID?, includeTransitions: Bool = false) async throws -> JobView? {
        guard let id else { return nil }
        let snapshot = includeTransitions ? try await queue.snapshot(id, includeTransitions: true) : try await reads.jobs.submit(id)
        return snapshot.map(JobView.init)
    }

    func limitParameter(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return 50 }
        guard let limit = Int(text), (1...200).contains(limit) else {
            throw Problem.validation([.init("limit", "must be an integer from 1 to 200")])
        }
        return limit
    }
}

import Foundation
import KubeClient
import GatewayKit
import Hummingbird
import HummingbirdTesting
import Jobs
import Platform
import Logging
import Postgres
import Redis
import Testing
import TestSupport

/// A fresh database, a private Redis key prefix and the gateway's router, run in-process.
final class GatewayHarness: @unchecked Sendable {
    static let adminToken = "sfk_test-bootstrap-admin-token-0123456789abcdef"

    let database: TestDatabase
    let postgres: PostgresPool
    let redis: RedisClient
    let gateway: Gateway
    let keys: RedisKeys

    static func with<T: Sendable>(
        configure: (inout APISettings) -> Void = { _ in },
        kube: KubeClient? = nil,
        _ body: @escaping @Sendable (GatewayHarness, any TestClientProtocol) async throws -> T
    ) async throws -> T {
        try await withTestDatabase { database in
            let harness = try await GatewayHarness(database: database, configure: configure, kube: kube)
            do {
                let app = Application(router: harness.gateway.buildRouter())
                let value = try await app.test(.router) { client in try await body(harness, client) }
                await harness.close()
                return value
            } catch {
                await harness.close()
                throw error
            }
        }
    }

    private init(database: TestDatabase, configure: (inout APISettings) -> Void, kube: KubeClient?) async throws {
        self.database = database
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        postgres = PostgresPool(configuration: PostgresConfiguration(url: database.url, maxConnections: 12))
        var redisConfiguration = try RedisConfiguration(url: try TestEnvironment.redisURL())
        // A thousand concurrent requests share eight connections on a loaded two-core machine: what the
        // tests check is what happens, not how fast the pool hands connections out (a dispatch that
        // timed out waiting for one left the queue empty in a CI run; in production the sweeper
        // re-pushes such a job within seconds).
        redisConfiguration.acquireTimeout = 60
        redis = RedisClient(configuration: redisConfiguration)
        var settings = APISettings(redisKeyPrefix: TestEnvironment.uniqueName("gw"), rateLimitBurst: 10_000, rateLimitPerMinute: 600_000,
                                   bootstrapAdminToken: Self.adminToken, eventPollInterval: 0.05)
        configure(&settings)
        keys = RedisKeys(prefix: settings.redisKeyPrefix)
        gateway = Gateway(postgres: postgres, redis: redis, settings: settings, logger: logger, kube: kube)
        try await Schema.migrate(postgres, logger: logger)
        try await gateway.bootstrapAdmin()
    }

    func close() async {
        let keys = try? await redis.send("KEYS", "\(self.keys.prefix):*").array?.compactMap(\.string)
        if let keys, !keys.isEmpty { _ = try? await redis.send(RedisCommand("DEL", keys)) }
        await postgres.shutdown()
        await redis.shutdown()
    }

    /// Creates a tenant through the API and issues it a token.
    func tenant(_ client: any TestClientProtocol, name: String = TestEnvironment.uniqueName("t").replacingOccurrences(of: "_", with: "-"), storeLimit: Int = 5) async throws -> (id: String, token: String) {
        let tenant = try await client.call(.post, "/api/tenants", token: Self.adminToken, json: ["name": name, "store_limit": storeLimit])
        #expect(tenant.status == .created)
        let id = try #require(tenant.json["id"] as? String)
        let issued = try await client.call(.post, "/api/tenants/\(id)/tokens", token: Self.adminToken, json: ["name": "ci"])
        #expect(issued.status == .created)
        return (id, try #require(issued.json["token"] as? String))
    }

    /// Creates a tenant and its token in SQL, bypassing the API (and its rate limit).
    func seedTenant(storeLimit: Int = 5) async throws -> (id: String, token: String) {
        let id = UUID()
        let token = APIToken.generate()
        try await postgres.query("INSERT INTO tenants (id, name, store_limit) VALUES (\(id), \(id.uuidString.lowercased()), \(storeLimit))")
        try await postgres.query("""
            INSERT INTO api_tokens (id, tenant_id, prefix, token_hash) VALUES (\(UUID()), \(id), 'sfk_', \(APIToken.hash(token)))
            """)
        return (id.uuidString.lowercased(), token)
    }

    func count(_ table: String) async throws -> Int {
        // Table names are test constants, never input.
        try await postgres.query(PostgresQuery(sql: "SELECT count(*) AS n FROM \(table)")).first!.decode("n", as: Int.self)
    }
}

struct Reply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    func header(_ name: String) -> String? { headers[HTTPFields.Element.Name(name)!] }
}

extension TestClientProtocol {
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: [String: Any]? = nil, raw: String? = nil,
        contentType: String? = "application/json", headers extra: [String: String] = [:]
    ) async throws -> Reply {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]))
        } else if let raw {
            body = ByteBuffer(string: raw)
        }
        if body != nil, let contentType { headers[.contentType] = contentType }
        for (name, value) in extra { headers[HTTPFields.Element.Name(name)!] = value }
        let response = try await execute(uri: uri, method: method, headers: headers, body: body)
        return Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }
}

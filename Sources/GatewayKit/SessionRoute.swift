import Foundation
import Hummingbird

extension Gateway {
    /// Who the token belongs to, for clients that sign in with a token (the dashboard checks a token
    /// with it and shows admin-only panels to admins), and whether stores land on a simulated cluster.
    func addSessionRoute(to api: RouterGroup<GatewayContext>) {
        api.get("me") { _, context -> Response in
            let caller = try context.requireCaller()
            guard let row = try await postgres.query("""
                SELECT t.id, t.name, t.role, t.store_limit, t.allowed_plans, t.created_at, k.name AS token_name, k.prefix AS token_prefix, k.expires_at AS token_expires_at
                FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = \(caller.tokenID)
                """).first else { throw Problem.unauthorized("the token is not valid, has expired or was revoked") }
            return JSONCoding.response(Session(
                tenant: try TenantView(row: row),
                token: .init(name: try row.decode("token_name"), prefix: try row.decode("token_prefix"), expiresAt: try row.decode("token_expires_at")),
                simulatedCluster: settings.simulatedCluster
            ))
        }
    }

    struct Session: Codable, Sendable {
        struct Token: Codable, Sendable {
            var name: String
            var prefix: String
            var expiresAt: Date?
        }
        var tenant: TenantView
        var token: Token
        var simulatedCluster: Bool
    }
}

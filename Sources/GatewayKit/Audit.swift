import Foundation
import Postgres

/// Writes the audit trail: one row per mutating request, in the same transaction as the change it
/// records, so there is never a change without its audit row (or an audit row for a rolled-back change).
enum Audit {
    static func record(
        _ action: String, target type: String, _ id: String?, details: [String: String] = [:],
        caller: Caller, context: GatewayContext, tenant: UUID? = nil, on connection: PostgresConnection
    ) async throws {
        try await connection.query("""
            INSERT INTO audit_events (tenant_id, token_id, action, target_type, target_id, client_ip, request_id, details)
            VALUES (\(tenant ?? caller.tenantID), \(caller.tokenID), \(action), \(type), \(id), \(context.clientIP),
                    \(context.requestID), \(try PostgresJSON(encoding: details))::jsonb)
            """)
    }
}

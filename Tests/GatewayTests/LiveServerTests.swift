import Foundation
import GatewayKit
import Hummingbird
import HummingbirdTesting
import Postgres
import Testing
import TestSupport

/// Over a real socket: the audit trail records the client's address, and a wrong method is a
/// problem+json 405, not a 404.
@Suite struct LiveServerTests {
    @Test func auditRecordsTheClientAddressOverARealConnection() async throws {
        try await GatewayHarness.with { harness, _ in
            let app = Application(router: harness.gateway.buildRouter(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
            try await app.test(.live) { client in
                let created = try await client.call(.post, "/api/stores", token: GatewayHarness.adminToken, json: ["name": "socket-shop", "engine": "medusa"])
                #expect(created.status == .accepted)
                let ip = try await harness.postgres.query("SELECT client_ip FROM audit_events WHERE action = 'store.create'").first?.decode("client_ip", as: String?.self)
                #expect(ip == "127.0.0.1")
                let wrong = try await client.call(.put, "/api/stores", token: GatewayHarness.adminToken, json: [:])
                #expect(wrong.status == .methodNotAllowed)
                #expect(wrong.header("Allow") == "GET, POST")
                #expect(wrong.header("Content-Type") == "application/problem+json")
                #expect(wrong.header("X-Request-ID") != nil)
            }
        }
    }
}

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

    @Test func wrongMethodsOnRoutesWithParametersAre405WithAllow() async throws {
        try await GatewayHarness.with { _, client in
            do {
                let id = UUID().uuidString.lowercased()
                for (method, path, allow) in [(HTTPRequest.Method.put, "/api/stores/\(id)", "DELETE, GET, PATCH"), (.delete, "/api/jobs/\(id)", "GET"),
                                              (.get, "/api/stores/\(id)/retry", "POST"), (.post, "/api/tenants/\(id)/tokens/\(id)", "DELETE"),
                                              (.patch, "/api/tenants/\(id)/tokens", "GET, POST")] {
                    let response = try await client.call(method, path, token: GatewayHarness.adminToken, json: [:])
                    #expect(response.status == .methodNotAllowed, "\(method) \(path)")
                    #expect(response.header("Allow") == allow, "\(method) \(path)")
                }
                let missing = try await client.call(.get, "/api/stores/\(id)/nothing", token: GatewayHarness.adminToken)
                #expect(missing.status == .notFound, "a path no route has is still 404")
            }
        }
    }

    @Test func pathsWithEncodedControlBytesAre400AndServeNoFile() async throws {
        try await GatewayHarness.with { _, client in
            do {
                let script = try await client.call(.get, "/app.js")
                #expect(script.status == .ok, "the file itself is served")
                for path in ["/app.js%00.html", "/app.js%00", "/index.html%0d%0aX:%20y", "/%ff%fe"] {
                    let response = try await client.call(.get, path)
                    #expect(response.status == .badRequest, "\(path)")
                    #expect(response.header("Content-Type") == "application/problem+json", "\(path)")
                }
            }
        }
    }
}

import Foundation
import GatewayKit
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

@Suite struct ValidationTests {
    struct BadInput: Sendable, CustomStringConvertible {
        let description: String
        let body: String
        var contentType: String? = "application/json"
        let status: Int
        let slug: String
        var field: String?
    }

    static let cases: [BadInput] = [
        BadInput(description: "name too short", body: #"{"name":"ab","engine":"medusa"}"#, status: 422, slug: "validation", field: "name"),
        BadInput(description: "name too long", body: #"{"name":"\#(String(repeating: "a", count: 41))","engine":"medusa"}"#, status: 422, slug: "validation", field: "name"),
        BadInput(description: "name starts with a digit", body: #"{"name":"1shop","engine":"medusa"}"#, status: 422, slug: "validation", field: "name"),
        BadInput(description: "name with uppercase", body: #"{"name":"MyShop","engine":"medusa"}"#, status: 422, slug: "validation", field: "name"),
        BadInput(description: "name with underscore", body: #"{"name":"my_shop","engine":"medusa"}"#, status: 422, slug: "validation", field: "name"),
        BadInput(description: "name ends with a dash", body: #"{"name":"shop-","engine":"medusa"}"#, status: 422, slug: "validation", field: "name"),
        BadInput(description: "reserved name admin", body: #"{"name":"admin","engine":"medusa"}"#, status: 422, slug: "validation", field: "name"),
        BadInput(description: "reserved name dashboard", body: #"{"name":"dashboard","engine":"medusa"}"#, status: 422, slug: "validation", field: "name"),
        BadInput(description: "name missing", body: #"{"engine":"medusa"}"#, status: 422, slug: "validation", field: "name"),
        BadInput(description: "name not a string", body: #"{"name":42,"engine":"medusa"}"#, status: 422, slug: "validation", field: "name"),
        BadInput(description: "unknown engine", body: #"{"name":"shop","engine":"magento"}"#, status: 422, slug: "validation", field: "engine"),
        BadInput(description: "engine missing", body: #"{"name":"shop"}"#, status: 422, slug: "validation", field: "engine"),
        BadInput(description: "unknown field", body: #"{"name":"shop","engine":"medusa","plan":"gold"}"#, status: 422, slug: "validation", field: "plan"),
        BadInput(description: "malformed JSON", body: #"{"name":"shop","engine":"#, status: 400, slug: "malformed"),
        BadInput(description: "JSON array", body: #"[{"name":"shop"}]"#, status: 400, slug: "malformed"),
        BadInput(description: "empty body", body: "", status: 400, slug: "malformed"),
        BadInput(description: "form content type", body: "name=shop&engine=medusa", contentType: "application/x-www-form-urlencoded", status: 415, slug: "unsupported-media-type"),
        BadInput(description: "no content type", body: #"{"name":"shop","engine":"medusa"}"#, contentType: nil, status: 415, slug: "unsupported-media-type"),
        BadInput(description: "body over 16 KiB", body: #"{"name":"shop","engine":"medusa","pad":"\#(String(repeating: "x", count: 17_000))"}"#, status: 413, slug: "too-large"),
    ]

    @Test(arguments: cases)
    func badStoreRequestsAreRefusedAndWriteNothing(_ input: BadInput) async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let audit = try await harness.count("audit_events")
            let reply = try await client.call(.post, "/api/stores", token: token, raw: input.body, contentType: input.contentType, headers: ["Idempotency-Key": "bad-1"])
            #expect(Int(reply.status.code) == input.status)
            #expect(reply.header("Content-Type") == "application/problem+json")
            #expect(reply.json["type"] as? String == "https://storefleet.dev/problems/\(input.slug)")
            #expect((reply.json["detail"] as? String)?.isEmpty == false)
            if let field = input.field {
                #expect((reply.json["errors"] as? [[String: Any]])?.contains { $0["field"] as? String == field } == true)
            }
            #expect(try await harness.count("stores") == 0)
            #expect(try await harness.count("jobs") == 0)
            #expect(try await harness.count("idempotency_keys") == 0)
            #expect(try await harness.count("audit_events") == audit)
            #expect(try await harness.redis.send("LLEN", harness.keys.queue).int == 0)
        }
    }

    @Test func unknownFieldsOnDeleteAndRetryAreRefused() async throws {
        try await GatewayHarness.with { harness, client in
            let (_, token) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "shop", "engine": "medusa"])
            let storeID = try #require((created.json["store"] as? [String: Any])?["id"] as? String)
            let delete = try await client.call(.delete, "/api/stores/\(storeID)", token: token, json: ["force": 1])
            #expect(delete.status == .unprocessableContent)
            #expect(try await harness.count("jobs") == 1)
        }
    }
}

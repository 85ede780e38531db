import Foundation
import GatewayKit
import Hummingbird
import HummingbirdTesting
@testable import Jobs
import ServiceRuntime
import Testing
import TestSupport

/// `/openapi.json` against the implementation: the same routes, and every response a walk through the
/// whole API receives is a documented status whose body matches the documented schema.
@Suite struct OpenAPIConformanceTests {
    struct Exchange: Sendable {
        let method: String
        let uri: String
        let status: Int
        let contentType: String
        let body: String
    }

    final class Recorder: @unchecked Sendable {
        private let exchanges = LockedState([Exchange]())
        func add(_ exchange: Exchange) { exchanges.withLock { $0.append(exchange) } }
        var all: [Exchange] { exchanges.withLock { $0 } }
    }

    static var document: [String: Any] { (try? JSONSerialization.jsonObject(with: OpenAPIDocument.json)) as? [String: Any] ?? [:] }
    static var paths: [String: [String: Any]] { document["paths"] as? [String: [String: Any]] ?? [:] }

    static func template(for uri: String) -> String? {
        let path = String(uri.split(separator: "?", maxSplits: 1).first ?? "")
        let segments = path.split(separator: "/")
        return paths.keys.first { template in
            let parts = template.split(separator: "/")
            return parts.count == segments.count && zip(parts, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        try await GatewayHarness.with { harness, _ in
            let routes = Set(harness.gateway.buildRouter().routes.map { route -> String in
                let path = route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
                return "\(route.method.rawValue.lowercased()) /" + path.joined(separator: "/")
            })
            var documented = Set<String>()
            for (path, operations) in Self.paths {
                for method in operations.keys { documented.insert("\(method) \(path)") }
            }
            #expect(routes == documented, "undocumented: \(routes.subtracting(documented).sorted()); not implemented: \(documented.subtracting(routes).sorted())")
            #expect(Self.document["openapi"] as? String == "3.1.0")
        }
    }

    @Test func everyResponseOfAWalkThroughTheAPIMatchesTheDocument() async throws {
        let recorder = Recorder()
        try await GatewayHarness.with(configure: { $0.eventStreamMaxSeconds = 1 }) { harness, client in
            @Sendable func call(_ method: HTTPRequest.Method, _ uri: String, token: String? = GatewayHarness.adminToken, json: [String: Any]? = nil, raw: String? = nil) async throws -> Reply {
                let reply = try await client.call(method, uri, token: token, json: json, raw: raw)
                recorder.add(Exchange(method: method.rawValue.lowercased(), uri: uri, status: Int(reply.status.code),
                                      contentType: reply.header("Content-Type") ?? "", body: reply.text))
                return reply
            }
            _ = try await call(.get, "/healthz", token: nil)
            _ = try await call(.get, "/readyz", token: nil)
            _ = try await call(.get, "/openapi.json", token: nil)
            let tenant = try await call(.post, "/api/tenants", json: ["name": "walker", "store_limit": 3])
            let tenantID = try #require(tenant.json["id"] as? String)
            _ = try await call(.post, "/api/tenants", json: ["name": "Bad Name"])
            _ = try await call(.patch, "/api/tenants/\(tenantID)", json: ["store_limit": 4])
            _ = try await call(.get, "/api/tenants")
            _ = try await call(.patch, "/api/tenants/\(UUID().uuidString)", json: ["store_limit": 4])
            _ = try await call(.post, "/api/tenants", token: nil, json: ["name": "anon"])
            let issued = try await call(.post, "/api/tenants/\(tenantID)/tokens", json: ["name": "walk"])
            let token = try #require(issued.json["token"] as? String)
            _ = try await call(.post, "/api/tenants/\(tenantID)/tokens", token: token, json: [:])
            _ = try await call(.post, "/api/tenants/\(UUID().uuidString)/tokens", json: [:])
            let spare = try await call(.post, "/api/tenants/\(tenantID)/tokens", json: [:])
            _ = try await call(.delete, "/api/tenants/\(tenantID)/tokens/\(try #require(spare.json["id"] as? String))")
            _ = try await call(.delete, "/api/tenants/\(tenantID)/tokens/\(UUID().uuidString)")
            _ = try await call(.post, "/api/tenants/\(tenantID)/tokens", json: ["name": "expiring", "expires_at": ISO8601DateFormatter().string(from: Date().addingTimeInterval(86_400))])
            _ = try await call(.post, "/api/tenants/\(tenantID)/tokens", raw: nil)
            _ = try await call(.get, "/api/tenants/\(tenantID)/tokens")
            _ = try await call(.get, "/api/tenants/\(tenantID)/tokens", token: token)
            _ = try await call(.get, "/api/tenants/\(UUID().uuidString)/tokens")

            let created = try await call(.post, "/api/stores", token: token, json: ["name": "walk-shop", "engine": "woocommerce"])
            let storeID = try #require((created.json["store"] as? [String: Any])?["id"] as? String)
            let jobID = try #require((created.json["job"] as? [String: Any])?["id"] as? String)
            _ = try await call(.post, "/api/stores", token: token, json: ["name": "walk-shop", "engine": "woocommerce"])
            _ = try await call(.post, "/api/stores", token: token, json: ["name": "x", "engine": "joomla"])
            _ = try await call(.post, "/api/stores", token: token, raw: "{nope")
            _ = try await call(.get, "/api/stores", token: token)
            _ = try await call(.get, "/api/stores?status=nope", token: token)
            _ = try await call(.get, "/api/stores/\(storeID)", token: token)
            _ = try await call(.get, "/api/stores/\(UUID().uuidString)", token: token)
            _ = try await call(.post, "/api/stores/\(storeID)/retry", token: token)
            _ = try await call(.get, "/api/stores/\(storeID)/credentials", token: token)
            _ = try await call(.get, "/api/stores/\(UUID().uuidString)/credentials", token: token)
            _ = try await call(.get, "/api/jobs?store=\(storeID)", token: token)
            _ = try await call(.get, "/api/jobs", token: token)
            _ = try await call(.get, "/api/plans", token: token)
            _ = try await call(.patch, "/api/tenants/\(tenantID)", json: ["allowed_plans": ["small", "medium"]])
            // Day two on a second store, made ready as its create job would leave it.
            let second = try await call(.post, "/api/stores", token: token, json: ["name": "walk-two", "engine": "medusa", "plan": "medium"])
            let secondID = try #require((second.json["store"] as? [String: Any])?["id"] as? String)
            _ = try await call(.patch, "/api/stores/\(secondID)", token: token, json: ["plan": "small"])
            try await harness.postgres.query("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE store_id = \(UUID(uuidString: secondID)!)")
            try await harness.postgres.query("UPDATE stores SET status = 'ready' WHERE id = \(UUID(uuidString: secondID)!)")
            try await harness.postgres.query("UPDATE store_revisions SET outcome = 'applied', finished_at = now() WHERE store_id = \(UUID(uuidString: secondID)!)")
            _ = try await call(.patch, "/api/stores/\(secondID)", token: token, json: ["plan": "medium"])
            _ = try await call(.patch, "/api/stores/\(secondID)", token: token, json: ["plan": "large"])
            _ = try await call(.patch, "/api/stores/\(secondID)", token: token, json: ["app_version": "-bad", "chart_version": "1"])
            _ = try await call(.patch, "/api/stores/\(secondID)", token: token, json: ["app_version": "2.10.2", "chart_version": "0.2.0"])
            _ = try await call(.patch, "/api/stores/\(UUID().uuidString)", token: token, json: ["plan": "small"])
            _ = try await call(.get, "/api/stores/\(secondID)/revisions", token: token)
            _ = try await call(.get, "/api/stores/\(secondID)/revisions?limit=1", token: token)
            _ = try await call(.get, "/api/stores/\(UUID().uuidString)/revisions", token: token)
            try await harness.postgres.query("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE store_id = \(UUID(uuidString: secondID)!)")
            try await harness.postgres.query("UPDATE stores SET status = 'ready' WHERE id = \(UUID(uuidString: secondID)!)")
            _ = try await call(.post, "/api/stores/\(secondID)/resume", token: token)
            _ = try await call(.post, "/api/stores/\(secondID)/suspend", token: token, json: ["reason": "walking"])
            _ = try await call(.post, "/api/stores/\(secondID)/suspend", token: token)
            try await harness.postgres.query("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE store_id = \(UUID(uuidString: secondID)!)")
            try await harness.postgres.query("UPDATE stores SET status = 'suspended', suspended_by = 'admin' WHERE id = \(UUID(uuidString: secondID)!)")
            _ = try await call(.post, "/api/stores/\(secondID)/resume", token: token)
            _ = try await call(.post, "/api/stores/\(secondID)/resume")
            _ = try await call(.post, "/api/stores/\(UUID().uuidString)/suspend", token: token)
            _ = try await call(.post, "/api/stores/\(UUID().uuidString)/resume", token: token)
            // Rollouts (admin): one across the walk's stores, then its listing, resume and cancel.
            _ = try await call(.post, "/api/rollouts", token: token, json: ["target": ["app_version": "1.2.3"]])
            _ = try await call(.post, "/api/rollouts", json: ["target": [:], "strategy": ["wave_size": 0]])
            _ = try await call(.post, "/api/rollouts", json: ["target": ["app_version": "1.2.3"], "selector": ["engine": "medusa", "tenant_id": UUID().uuidString]])
            let rollout = try await call(.post, "/api/rollouts", json: ["target": ["app_version": "1.2.3"], "selector": ["tenant_id": tenantID, "engine": "woocommerce"],
                                                                        "strategy": ["canary": 1, "wave_percent": 50, "max_parallel": 2, "failure_threshold": 0]])
            let rolloutID = try #require(rollout.json["id"] as? String, "\(rollout.text)")
            _ = try await call(.post, "/api/rollouts", json: ["target": ["chart_version": "0.2.0"]])
            _ = try await call(.get, "/api/rollouts")
            _ = try await call(.get, "/api/rollouts", token: token)
            _ = try await call(.get, "/api/rollouts/\(rolloutID)")
            _ = try await call(.get, "/api/rollouts/\(UUID().uuidString)")
            _ = try await call(.post, "/api/rollouts/\(rolloutID)/resume")
            _ = try await call(.post, "/api/rollouts/\(rolloutID)/halt")
            _ = try await call(.post, "/api/rollouts/\(UUID().uuidString)/halt")
            _ = try await call(.post, "/api/rollouts/\(rolloutID)/cancel")
            try await harness.postgres.query("UPDATE rollouts SET status = 'halted' WHERE id = \(UUID(uuidString: rolloutID)!)")
            try await harness.postgres.query("UPDATE jobs SET status = 'failed', finished_at = now() WHERE id = (SELECT job_id FROM rollouts WHERE id = \(UUID(uuidString: rolloutID)!))")
            _ = try await call(.post, "/api/rollouts/\(rolloutID)/resume")
            _ = try await call(.post, "/api/rollouts/\(UUID().uuidString)/cancel")
            _ = try await call(.post, "/api/rollouts/\(UUID().uuidString)/resume")

            // Run the job a little so steps and transitions have times and durations, then fail it.
            let job = UUID(uuidString: jobID)!
            _ = try await harness.gateway.queue.store.claim(job, worker: "walker", lease: 30)
            _ = try await harness.gateway.queue.store.advance(job, epoch: 1, worker: "walker", position: 0, durationMs: 5)
            try await harness.postgres.query("UPDATE jobs SET status = 'failed', error = 'boom', finished_at = now(), worker_id = NULL WHERE id = \(job)")
            try await harness.postgres.query("UPDATE job_steps SET status = 'failed', message = 'boom' WHERE job_id = \(job) AND position = 1")
            try await harness.postgres.query("UPDATE stores SET status = 'failed', last_error = 'boom' WHERE id = \(UUID(uuidString: storeID)!)")
            _ = try await call(.get, "/api/jobs/\(jobID)?include=transitions", token: token)
            _ = try await call(.get, "/api/jobs/\(UUID().uuidString)", token: token)
            _ = try await call(.post, "/api/stores/\(storeID)/retry", token: token)
            _ = try await call(.post, "/api/stores/\(UUID().uuidString)/retry", token: token)
            _ = try await call(.delete, "/api/stores/\(storeID)", token: token)
            _ = try await call(.delete, "/api/stores/\(UUID().uuidString)", token: token)
            _ = try await call(.get, "/api/audit", token: token)
            _ = try await call(.get, "/api/stats", token: token)
            _ = try await call(.get, "/api/stats/series", token: token)
            _ = try await call(.get, "/api/me", token: token)
            _ = try await call(.get, "/api/me", token: nil)
            _ = try await call(.get, "/api/events", token: token)
            _ = try await call(.get, "/metrics", token: nil)
        }

        let exchanges = recorder.all
        var exercised = Set<String>()
        for exchange in exchanges {
            guard let template = Self.template(for: exchange.uri) else {
                Issue.record("\(exchange.method) \(exchange.uri) matches no documented path")
                continue
            }
            exercised.insert("\(exchange.method) \(template)")
            let responses = ((Self.paths[template]?[exchange.method] as? [String: Any])?["responses"] as? [String: Any]) ?? [:]
            guard let response = responses[String(exchange.status)] as? [String: Any] else {
                Issue.record("\(exchange.method) \(template) answered \(exchange.status), which is not documented")
                continue
            }
            let content = response["content"] as? [String: Any] ?? [:]
            let mediaType = String(exchange.contentType.split(separator: ";").first ?? "")
            guard let media = content[mediaType] as? [String: Any], let schema = media["schema"] as? [String: Any] else {
                Issue.record("\(exchange.method) \(template) \(exchange.status): content type \(exchange.contentType) is not documented")
                continue
            }
            guard mediaType.hasSuffix("json") else { continue }
            guard let body = try? JSONSerialization.jsonObject(with: Data(exchange.body.utf8)) else {
                Issue.record("\(exchange.method) \(template) \(exchange.status): body is not JSON")
                continue
            }
            let errors = SchemaCheck(document: Self.document).validate(body, schema, at: "body")
            #expect(errors.isEmpty, "\(exchange.method) \(exchange.uri) \(exchange.status): \(errors)")
        }
        var documented = Set<String>()
        for (path, operations) in Self.paths { for method in operations.keys { documented.insert("\(method) \(path)") } }
        #expect(exercised == documented, "not exercised: \(documented.subtracting(exercised).sorted())")
    }
}

/// The subset of JSON Schema the document uses: $ref, type, properties, required, additionalProperties,
/// items, enum, and the uuid and date-time formats.
struct SchemaCheck {
    let document: [String: Any]

    func validate(_ value: Any, _ schema: [String: Any], at path: String) -> [String] {
        if let ref = schema["$ref"] as? String {
            let name = String(ref.split(separator: "/").last ?? "")
            guard let resolved = ((document["components"] as? [String: Any])?["schemas"] as? [String: Any])?[name] as? [String: Any] else {
                return ["\(path): unresolved \(ref)"]
            }
            return validate(value, resolved, at: path)
        }
        var errors: [String] = []
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path): expected an object"] }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { errors.append("\(path).\(key): required") }
            for (key, item) in object {
                if let property = properties[key] as? [String: Any] {
                    errors += validate(item, property, at: "\(path).\(key)")
                } else if let additional = schema["additionalProperties"] as? [String: Any] {
                    errors += validate(item, additional, at: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false {
                    errors.append("\(path).\(key): not in the schema")
                }
            }
        case "array":
            guard let array = value as? [Any] else { return ["\(path): expected an array"] }
            if let items = schema["items"] as? [String: Any] {
                for (index, item) in array.enumerated() { errors += validate(item, items, at: "\(path)[\(index)]") }
            }
        case "string":
            guard let string = value as? String else { return ["\(path): expected a string"] }
            if let values = schema["enum"] as? [String], !values.contains(string) { errors.append("\(path): \(string) not in \(values)") }
            if schema["format"] as? String == "uuid", UUID(uuidString: string) == nil || string != string.lowercased() {
                errors.append("\(path): \(string) is not a lowercase UUID")
            }
            if schema["format"] as? String == "date-time" {
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                if formatter.date(from: string) == nil { errors.append("\(path): \(string) is not a date-time") }
            }
        case "integer":
            guard let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded() else { return ["\(path): expected an integer"] }
        case "number":
            guard value is NSNumber else { return ["\(path): expected a number"] }
        case "boolean":
            guard value is Bool || value is NSNumber else { return ["\(path): expected a boolean"] }
        default:
            break
        }
        return errors
    }
}

import Foundation
import KubeClient
import Testing
@testable import CLIKit

@Suite struct APIClientTests {
    @Test func aDroppedCreateIsSentAgainWithTheSameIdempotencyKey() throws {
        let transport = ScriptedTransport([dropped, json(503, #"{"title":"Service Unavailable"}"#), json(202, #"{"store":{"name":"shop"}}"#)])
        let reply = try client(transport).call("POST", "/api/stores", body: ["name": "shop"], idempotencyKey: "cli-key-1")
        #expect(reply.status == 202)
        #expect(transport.requests.count == 3)
        #expect((0..<3).map { transport.header("Idempotency-Key", of: $0) } == ["cli-key-1", "cli-key-1", "cli-key-1"])
    }

    @Test func aChangeWithoutAKeyIsNotSentTwiceOnceItMayHaveArrived() {
        // Token issuance: the server refuses a key, and a second send could issue a second token.
        let transport = ScriptedTransport([dropped, json(201, "{}")])
        #expect(throws: CLIError.self) { try client(transport).call("POST", "/api/tenants/x/tokens", body: [:]) }
        #expect(transport.requests.count == 1)
    }

    @Test func aRequestThatNeverLeftIsSentAgainWhateverItIs() throws {
        let transport = ScriptedTransport([refused, json(201, #"{"token":"sfk_x"}"#)])
        let reply = try client(transport).call("POST", "/api/tenants/x/tokens", body: [:])
        #expect(reply.status == 201)
        #expect(transport.requests.count == 2)
    }

    @Test func theSameKeyStillInFlightIsWaitedFor() throws {
        let inFlight = json(409, #"{"type":"https://storefleet.dev/problems/idempotency-in-flight","detail":"retry later"}"#)
        let transport = ScriptedTransport([inFlight, json(202, "{}")])
        _ = try client(transport).call("DELETE", "/api/stores/1", idempotencyKey: "k")
        #expect(transport.requests.count == 2)
    }

    @Test func aKeyInFlightIsWaitedOutThenReportedAsStillRunningNotAsAConflict() {
        let inFlight = json(409, #"{"type":"https://storefleet.dev/problems/idempotency-in-flight","detail":"retry later"}"#)
        let transport = ScriptedTransport(Array(repeating: inFlight, count: 200))
        let api = client(transport)
        // Patience is wall-clock time: generous next to each wait, so that a loaded machine (whose
        // sleeps overrun) still makes well over the usual six attempts within it.
        api.inFlightPatience = 1.5
        api.sleep = { _ in Thread.sleep(forTimeInterval: 0.05) }
        #expect { try api.call("POST", "/api/stores", body: [:], idempotencyKey: "k") } throws: { ($0 as! CLIError).status == .failure }
        #expect(transport.requests.count > 6)  // past the usual attempt budget, for as long as the patience lasts
    }

    @Test func aDeadlineBoundsEveryRequestAndTheRetries() {
        let transport = ScriptedTransport(Array(repeating: json(503, "{}"), count: 50))
        let api = client(transport)
        api.attempts = 50
        api.sleep = { Thread.sleep(forTimeInterval: min($0, 0.05)) }
        let deadline = Date().addingTimeInterval(0.3)
        #expect { try api.call("GET", "/api/jobs/1", deadline: deadline) } throws: { ($0 as! CLIError).status == .timedOut }
        #expect(transport.requests.allSatisfy { $0.timeout <= 0.3 })
        #expect(Date() < deadline.addingTimeInterval(1))
    }

    @Test func refusalsAreNotRetriedAndBecomeOneSentenceWithTheRequestID() {
        let problem = #"{"type":"https://storefleet.dev/problems/validation","title":"Unprocessable","status":422,"detail":"the request has invalid fields","request_id":"req-42","errors":[{"field":"name","message":"must be 3 to 40 characters"},{"field":"engine","message":"must be woocommerce or medusa"}]}"#
        let transport = ScriptedTransport([json(422, problem)])
        do {
            try client(transport).call("POST", "/api/stores", body: [:], idempotencyKey: "k")
            Issue.record("a 422 was accepted")
        } catch {
            #expect(error.status == .invalidInput)
            #expect(error.description == "name must be 3 to 40 characters; engine must be woocommerce or medusa (request ID req-42)")
            #expect(error.problemType == "validation")
        }
        #expect(transport.requests.count == 1)
    }

    @Test func aServerThatStaysDownIsUnreachableAfterCappedRetries() {
        let transport = ScriptedTransport(Array(repeating: refused, count: 10))
        let api = client(transport)
        var delays: [Double] = []
        api.sleep = { delays.append($0) }
        do {
            try api.call("GET", "/api/stores")
            Issue.record("no error")
        } catch {
            #expect(error.status == .unreachable)
            #expect(error.message.contains("cannot reach http://127.0.0.1:1"))
        }
        #expect(transport.requests.count == 6)
        #expect(delays.count == 5 && delays.allSatisfy { $0 >= 0 && $0 <= 4 })
    }

    @Test func rateLimitsWaitTheirRetryAfter() throws {
        let transport = ScriptedTransport([json(429, #"{"detail":"slow down"}"#, headers: ["retry-after": "2"]), json(200, "{}")])
        let api = client(transport)
        var delays: [Double] = []
        api.sleep = { delays.append($0) }
        try api.call("GET", "/api/stores")
        #expect(delays.count == 1 && delays[0] >= 2)
    }

    @Test func verboseShowsTheExchangeButNeverTheToken() throws {
        var lines: [String] = []
        let transport = ScriptedTransport([json(200, #"{"password":"hunter2-very-secret"}"#)])
        let api = APIClient(target: Target(server: "http://127.0.0.1:1", token: "sfk_abcdefghijSECRETPART"), transport: transport, verbose: true) { lines.append($0) }
        try api.call("GET", "/api/stores/1/credentials", secretResponse: true)
        let text = lines.joined(separator: "\n")
        #expect(text.contains("> GET http://127.0.0.1:1/api/stores/1/credentials"))
        #expect(text.contains("Authorization: Bearer sfk_abcdef…(redacted)"))
        #expect(!text.contains("SECRETPART"))
        #expect(!text.contains("hunter2"))
        #expect(text.contains("< 200"))
        // A token that is not Storefleet's has no public part: none of it is shown.
        #expect(APIClient.redactedHeader("Authorization", "Bearer shortsecret") == "Bearer (redacted)")
    }

    @Test func aNameIsLookedUpPageByPageStoppingAtTheCallersOwnStore() throws {
        let me = #"{"tenant":{"id":"t-own"}}"#
        let page1 = #"{"items":[{"id":"s-other","name":"shop","tenant_id":"t-other","status":"ready"},{"id":"s-own","name":"shop","tenant_id":"t-own","status":"ready"}],"next_cursor":"c1"}"#
        let transport = ScriptedTransport([json(200, me), json(200, page1), json(200, #"{"id":"s-own","name":"shop"}"#)])
        let store = try Lookup.store("shop", client: client(transport))
        #expect(store["id"]?.string == "s-own", "the caller's own store, not another tenant's of the same name")
        #expect(transport.requests.map(\.url).filter { $0.contains("cursor=") }.isEmpty, "no second page once found")
        #expect(transport.requests.last?.url.hasSuffix("/api/stores/s-own") == true)
    }

    @Test func aNameSeveralTenantsHaveIsRefusedAsAmbiguous() {
        let me = #"{"tenant":{"id":"t-admin"}}"#
        let page = #"{"items":[{"id":"a","name":"shop","tenant_id":"t1","status":"ready"},{"id":"b","name":"shop","tenant_id":"t2","status":"ready"}]}"#
        let transport = ScriptedTransport([json(200, me), json(200, page)])
        #expect { try Lookup.store("shop", client: client(transport)) } throws: { ($0 as! CLIError).status == .invalidInput }
    }

    @Test func httpStatusesMapToDocumentedExitCodes() {
        #expect(ExitStatus.forHTTP(400) == .invalidInput)
        #expect(ExitStatus.forHTTP(413) == .invalidInput)
        #expect(ExitStatus.forHTTP(415) == .invalidInput)
        #expect(ExitStatus.forHTTP(422) == .invalidInput)
        #expect(ExitStatus.forHTTP(401) == .unauthorized)
        #expect(ExitStatus.forHTTP(403) == .unauthorized)
        #expect(ExitStatus.forHTTP(404) == .notFound)
        #expect(ExitStatus.forHTTP(409) == .conflict)
        #expect(ExitStatus.forHTTP(429) == .failure)
        #expect(ExitStatus.forHTTP(500) == .failure)
        // The numbers are a contract with every script that branches on them.
        #expect(ExitStatus.allCases.map(\.rawValue) == Array(0...9))
        #expect(ExitStatus.helpTable.contains("3  the job failed"))
    }

    @Test func aFinishedJobDecidesTheExitCode() throws {
        try outcome(of: ["id": "j", "status": "succeeded"])
        let failed: JSON = ["id": "j", "status": "failed", "steps": [["name": "namespace", "status": "succeeded"], ["name": "readiness", "status": "failed", "message": "setup Job failed: BackoffLimitExceeded"]]]
        #expect { try outcome(of: failed) } throws: { error in
            let error = error as! CLIError
            return error.status == .jobFailed && error.message == "job j failed at step readiness: setup Job failed: BackoffLimitExceeded"
        }
        #expect { try outcome(of: ["id": "j", "status": "cancelled"]) } throws: { ($0 as! CLIError).status == .jobCancelled }
    }
}

import Foundation
@testable import GatewayKit
import Hummingbird
import HummingbirdTesting
@testable import Jobs
import Platform
import Testing
import TestSupport

@Suite struct EventStreamTests {
    struct Event {
        var id: String?
        var name: String
        var data: [String: Any]
    }

    static func parse(_ text: String) -> [Event] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var event = Event(id: nil, name: "message", data: [:])
            var sawData = false
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { event.id = String(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { event.name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") {
                    sawData = true
                    event.data = (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))) as? [String: Any] ?? [:]
                }
            }
            return sawData ? event : nil
        }
    }

    /// The stream position of a job's first (queued) transition: resuming from it makes what a stream
    /// sends independent of when, on a loaded machine, its handler gets to run.
    static func firstPosition(_ harness: GatewayHarness, job: UUID) async throws -> String {
        try #require(try await harness.postgres.query("""
            SELECT xid::text || '-' || id AS position FROM job_transitions WHERE job_id = \(job) ORDER BY id LIMIT 1
            """).first).decode("position", as: String.self)
    }

    /// Waits until the gateway has a stream open (it takes its starting positions before that).
    static func streamOpen(_ harness: GatewayHarness, count: Int = 1) async throws {
        try await eventually(within: 30) {
            guard harness.gateway.openStreams.withLock({ $0.values.map(\.count).reduce(0, +) >= count }) else { throw CancellationError() }
        }
    }

    @Test func theStreamDeliversAJobsTransitionsInOrderAndOnlyTheCallersOwn() async throws {
        try await GatewayHarness.with(configure: { $0.eventStreamMaxSeconds = 15 }) { harness, client in
            let (_, token) = try await harness.tenant(client)
            let (_, stranger) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "streamed", "engine": "medusa"])
            let jobID = try #require(UUID(uuidString: (created.json["job"] as? [String: Any])?["id"] as? String ?? ""))

            async let mine = client.call(.get, "/api/events", token: token)
            async let theirs = client.call(.get, "/api/events", token: stranger)
            try await Self.streamOpen(harness, count: 2)
            // Play a worker: claim, run every step, finish.
            let store = harness.gateway.queue.store
            guard case .claimed = try await store.claim(jobID, worker: "w1", lease: 30) else {
                Issue.record("could not claim")
                return
            }
            for position in 0..<(StoreJobKinds.createSteps.count - 1) {
                _ = try await store.advance(jobID, epoch: 1, worker: "w1", position: position, durationMs: 1)
            }
            try await store.complete(jobID, epoch: 1, worker: "w1", position: StoreJobKinds.createSteps.count - 1, durationMs: 1)
            try await harness.postgres.query("UPDATE stores SET status = 'ready', updated_at = now()")

            let reply = try await mine
            #expect(reply.status == .ok)
            #expect(reply.header("Content-Type") == "text/event-stream")
            let events = Self.parse(reply.text)
            let jobEvents = events.filter { $0.name == "job" }
            let expected = try await harness.postgres.query("""
                SELECT coalesce(step, '') || ':' || status AS s FROM job_transitions WHERE job_id = \(jobID) AND status <> 'queued' ORDER BY id
                """).rows.map { try $0.decode("s", as: String.self) }
            #expect(jobEvents.map { "\($0.data["step"] as? String ?? ""):\($0.data["status"] as? String ?? "")" } == expected)
            #expect(expected.count == 1 + 2 * StoreJobKinds.createSteps.count + 1)
            // Each SSE id is the stream position "<xid>-<transition id>"; the data carries the transition ID.
            let ids = jobEvents.compactMap { $0.data["id"] as? Int }
            #expect(ids == ids.sorted() && Set(ids).count == ids.count)
            let positions = jobEvents.compactMap(\.id)
            #expect(positions.count == jobEvents.count && Set(positions).count == positions.count)
            #expect(zip(positions, ids).allSatisfy { $0.hasSuffix("-\($1)") }, "\(positions.prefix(3))")
            #expect(events.contains { $0.name == "store" && $0.data["status"] as? String == "ready" })
            #expect(events.last?.name == "close")

            let other = Self.parse(try await theirs.text)
            #expect(other.filter { $0.name == "job" || $0.name == "store" }.isEmpty)
        }
    }

    @Test func aReconnectResumesAfterLastEventID() async throws {
        try await GatewayHarness.with(configure: { $0.eventStreamMaxSeconds = 3 }) { harness, client in
            let (_, token) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "resumed", "engine": "medusa"])
            let jobID = try #require(UUID(uuidString: (created.json["job"] as? [String: Any])?["id"] as? String ?? ""))
            _ = try await harness.gateway.queue.store.claim(jobID, worker: "w1", lease: 30)
            // The position of the job's first (queued) transition, as the stream would have sent it.
            let first = try #require(try await harness.postgres.query("""
                SELECT xid::text || '-' || id AS position FROM job_transitions WHERE job_id = \(jobID) ORDER BY id LIMIT 1
                """).first).decode("position", as: String.self)
            let reply = try await client.call(.get, "/api/events", token: token, headers: ["Last-Event-ID": first])
            let statuses = Self.parse(reply.text).filter { $0.name == "job" }.compactMap { $0.data["status"] as? String }
            #expect(statuses == ["running", "running"])  // the job's and its first step's, after the queued one
            for bad in ["x", "12", "-1-2", "1-x", "+5-3", "1234567890123456789-1"] {
                #expect(try await client.call(.get, "/api/events", token: token, headers: ["Last-Event-ID": bad]).status == .unprocessableContent, "\(bad)")
            }
            // A position beyond every transaction here (a client from before a restore) is refused, not
            // resumed into silence.
            let future = try await client.call(.get, "/api/events", token: token, headers: ["Last-Event-ID": "9000000000000-1"])
            #expect(future.status == .conflict)
            #expect(future.json["type"] as? String == "https://storefleet.dev/problems/position-not-reached")
            #expect(try await client.call(.get, "/api/events").status == .unauthorized)
        }
    }

    // The stream's length is the test's window: what must arrive takes well under a second on an idle
    // machine, and a CI run with every suite at once has stalled Postgres for many seconds (a 6 s
    // window once closed after the first page). Generous windows cost wall time only here.
    @Test func moreThanAPageOfEventsStillFlowsAndNewOnesFollow() async throws {
        try await GatewayHarness.with(configure: { $0.eventStreamMaxSeconds = 20 }) { harness, client in
            let (_, token) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "busy", "engine": "medusa"])
            let jobID = try #require(UUID(uuidString: (created.json["job"] as? [String: Any])?["id"] as? String ?? ""))
            let position = try await Self.firstPosition(harness, job: jobID)
            async let stream = client.call(.get, "/api/events", token: token, headers: ["Last-Event-ID": position])
            try await Self.streamOpen(harness)
            // More transitions at once than one poll reads (500), then a few more later.
            try await harness.postgres.query("""
                INSERT INTO job_transitions (job_id, attempt, status, message) SELECT \(jobID), 0, 'retrying', 'burst ' || n FROM generate_series(1, 700) n
                """)
            try await Task.sleep(for: .milliseconds(1500))
            try await harness.postgres.query("""
                INSERT INTO job_transitions (job_id, attempt, status, message) SELECT \(jobID), 0, 'retrying', 'later ' || n FROM generate_series(1, 5) n
                """)
            let messages = Self.parse(try await stream.text).filter { $0.name == "job" }.compactMap { $0.data["message"] as? String }
            #expect(messages.filter { $0.hasPrefix("burst ") }.count == 700)
            #expect(messages.filter { $0.hasPrefix("later ") } == (1...5).map { "later \($0)" })
        }
    }

    /// Transition IDs are taken before commit: a transaction held open while thousands of later ones
    /// commit must still have its transition delivered, once, when it commits.
    @Test func aLateCommitBehindABurstIsDeliveredOnceAndNothingIsSkipped() async throws {
        try await GatewayHarness.with(configure: { $0.eventStreamMaxSeconds = 30 }) { harness, client in
            let (_, token) = try await harness.tenant(client)
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "bursty", "engine": "medusa"])
            let jobID = try #require(UUID(uuidString: (created.json["job"] as? [String: Any])?["id"] as? String ?? ""))
            let position = try await Self.firstPosition(harness, job: jobID)
            async let stream = client.call(.get, "/api/events", token: token, headers: ["Last-Event-ID": position])
            try await Self.streamOpen(harness)
            try await harness.postgres.transaction { held in
                // This row's ID is lower than every row of the burst, and it commits last.
                try await held.query("INSERT INTO job_transitions (job_id, attempt, status, message) VALUES (\(jobID), 0, 'retrying', 'late')")
                for batch in 0..<50 {
                    try await harness.postgres.query("""
                        INSERT INTO job_transitions (job_id, attempt, status, message)
                        SELECT \(jobID), 0, 'retrying', 'burst ' || (\(batch * 100) + n) FROM generate_series(1, 100) n
                        """)
                }
                try await Task.sleep(for: .milliseconds(1500))
            }
            let events = Self.parse(try await stream.text).filter { $0.name == "job" }
            let messages = events.compactMap { $0.data["message"] as? String }
            #expect(messages.filter { $0.hasPrefix("burst ") } == (1...5000).map { "burst \($0)" }, "every one, once, in order")
            #expect(messages.filter { $0 == "late" }.count == 1, "the late commit was delivered, once")
            #expect(Set(events.compactMap(\.id)).count == events.count, "no event twice")
            // Stream order is the writing transactions' order: the burst, begun after the held transaction,
            // waited for it to end and came after its row, so Last-Event-ID resumes without a gap.
            let late = try #require(events.firstIndex { $0.data["message"] as? String == "late" })
            let burst = try #require(events.firstIndex { ($0.data["message"] as? String ?? "").hasPrefix("burst ") })
            #expect(late < burst)
        }
    }

    /// More store changes at once than one read returns, and one committed long after it began: every
    /// change arrives, once. (Reading by updated_at with a 2 s look-back stalled on the first and
    /// skipped the second.)
    @Test func everyStoreChangeArrivesOnceHoweverManyAndHoweverLate() async throws {
        try await GatewayHarness.with(configure: { $0.eventStreamMaxSeconds = 25 }) { harness, client in
            let (tenant, token) = try await harness.tenant(client, storeLimit: 1000)
            let tenantID = try #require(UUID(uuidString: tenant))
            // Another transaction (another tenant's request, another test) stays open from before the stores
            // are inserted until after the stream begins: the stream's start lies below the inserts, and
            // they had committed before it began, so they are not news. (This held open in CI by chance
            // sent 600 "provisioning" events first.)
            let (inserted, insertedDone) = AsyncStream<Void>.makeStream()
            let (release, releaseNow) = AsyncStream<Void>.makeStream()
            async let older: Void = harness.postgres.transaction { held in
                _ = try await held.query("SELECT pg_current_xact_id()")
                try await harness.postgres.query("""
                    INSERT INTO stores (id, tenant_id, name, engine, status, namespace)
                    SELECT gen_random_uuid(), \(tenantID), 'many-' || n, 'medusa', 'provisioning', 'store-many-' || n FROM generate_series(1, 600) n
                    """)
                insertedDone.yield()
                for await _ in release { break }
            }
            for await _ in inserted { break }
            async let stream = client.call(.get, "/api/events", token: token)
            try await Self.streamOpen(harness)
            releaseNow.yield()
            try await older
            try await harness.postgres.transaction { late in
                // Begun now, committed after 3 s: its updated_at is older than any look-back would reach.
                try await late.query("UPDATE stores SET status = 'failed', updated_at = now() WHERE name = 'many-1'")
                try await harness.postgres.query("UPDATE stores SET status = 'ready', updated_at = now() WHERE name LIKE 'many-%' AND name <> 'many-1'")
                try await Task.sleep(for: .seconds(3))
            }
            let events = Self.parse(try await stream.text).filter { $0.name == "store" }
            let names = events.compactMap { $0.data["name"] as? String }
            #expect(names.count == 600 && Set(names).count == 600, "\(names.count) events for \(Set(names).count) stores")
            #expect(events.first { $0.data["name"] as? String == "many-1" }?.data["status"] as? String == "failed")
            #expect(events.filter { $0.data["status"] as? String == "ready" }.count == 599)
        }
    }

    @Test func aRevokedTokensStreamEnds() async throws {
        try await GatewayHarness.with(configure: { $0.eventStreamMaxSeconds = 60 }) { harness, client in
            let (tenant, token) = try await harness.tenant(client)
            let started = ContinuousClock.now
            async let stream = client.call(.get, "/api/events", token: token)
            try await Task.sleep(for: .milliseconds(500))
            try await harness.postgres.query("UPDATE api_tokens SET revoked_at = now() WHERE tenant_id = \(UUID(uuidString: tenant)!)")
            let reply = try await stream
            let events = Self.parse(reply.text)
            #expect(events.last?.name == "close", "status \(reply.status) after \(ContinuousClock.now - started): \(reply.text.suffix(600))")
            #expect(ContinuousClock.now - started < .seconds(30), "ended by the revocation, not by the stream's 60 s limit")
        }
    }

    @Test func aStreamOutlivesABriefDatabaseOutage() async throws {
        try await GatewayHarness.with(configure: { $0.eventStreamMaxSeconds = 20 }) { harness, client in
            let (_, token) = try await harness.tenant(client)
            async let stream = client.call(.get, "/api/events", token: token)
            try await Self.streamOpen(harness)
            // For two seconds every read the stream makes fails (as during a restart or a failover).
            try await harness.postgres.query("ALTER TABLE job_transitions RENAME TO job_transitions_away")
            try await Task.sleep(for: .seconds(2))
            try await harness.postgres.query("ALTER TABLE job_transitions_away RENAME TO job_transitions")
            let created = try await client.call(.post, "/api/stores", token: token, json: ["name": "after-outage", "engine": "medusa"])
            #expect(created.status == .accepted)
            let reply = try await stream
            let events = Self.parse(reply.text)
            #expect(events.contains { $0.name == "job" }, "the job made after the outage reached the stream: \(reply.text.suffix(600))")
            #expect(events.last?.name == "close", "the stream ran its course: \(reply.text.suffix(600))")
        }
    }

    @Test func aTenantsOpenStreamsAreCapped() async throws {
        // Streams long enough to be surely open when the third knocks, on a loaded machine too (a fixed
        // half-second wait with 2 s streams once let the third in after both had ended).
        try await GatewayHarness.with(configure: { $0.eventStreamsPerTenant = 2; $0.eventStreamMaxSeconds = 8 }) { harness, client in
            let (_, token) = try await harness.tenant(client)
            let (_, other) = try await harness.tenant(client)
            async let first = client.call(.get, "/api/events", token: token)
            async let second = client.call(.get, "/api/events", token: token)
            try await Self.streamOpen(harness, count: 2)
            let third = try await client.call(.get, "/api/events", token: token)
            #expect(third.status == .tooManyRequests)
            #expect(third.text.contains("too-many-streams"))
            let elsewhere = try await client.call(.get, "/api/events", token: other)
            #expect(elsewhere.status == .ok, "another tenant is not affected")
            #expect(try await first.status == .ok)
            #expect(try await second.status == .ok)
            let again = try await client.call(.get, "/api/events", token: token)
            #expect(again.status == .ok, "a stream that ended frees its place")
        }
    }
}

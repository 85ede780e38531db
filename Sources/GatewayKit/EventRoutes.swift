import Foundation
import Hummingbird
import Postgres
import ServiceLifecycle

extension Gateway {
    static let lastEventIDHeader = HTTPFields.Element.Name("Last-Event-ID")!

    /// `GET /api/events`: Server-Sent Events of the caller's job transitions and store changes.
    ///
    /// Postgres is polled (every `EVENTS_POLL_INTERVAL`) rather than Redis pub/sub being subscribed to:
    /// the transitions table is already the ordered, durable history, a reconnecting client resumes
    /// from `Last-Event-ID` without gaps, and the stream needs no connection held per client.
    func addEventRoutes(to api: RouterGroup<GatewayContext>) {
        api.get("events") { request, context -> Response in
            let caller = try context.requireCaller()
            var after: Int64
            if let last = request.headers[Self.lastEventIDHeader] {
                guard let value = Int64(last), value >= 0 else {
                    throw Problem.validation([.init("Last-Event-ID", "must be an event ID this stream sent")])
                }
                after = value
            } else {
                after = try await EventStream.latestTransitionID(postgres)
            }
            let since = try await postgres.query("SELECT now() AS now").first!.decode("now", as: Date.self)
            let limit = settings.eventStreamsPerTenant
            let streamID = UUID()
            let now = ContinuousClock.now
            let oldest = now - .seconds(settings.eventStreamMaxSeconds + 30)
            let admitted = openStreams.withLock { open -> Bool in
                var mine = open[caller.tenantID, default: [:]].filter { $0.value > oldest }
                guard mine.count < limit else { return false }
                mine[streamID] = now
                open[caller.tenantID] = mine
                return true
            }
            guard admitted else {
                throw Problem(.tooManyRequests, "too-many-streams", "Too Many Requests",
                              detail: "this tenant already has \(limit) event streams open here; close one (a dashboard tab) or poll GET /api/jobs/:id")
            }
            let stream = EventStream(gateway: self, caller: caller, after: after, storesSince: since)
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", HTTPFields.Element.Name("X-Accel-Buffering")!: "no"],
                body: ResponseBody { writer in
                    defer { openStreams.withLock { _ = $0[caller.tenantID]?.removeValue(forKey: streamID) } }
                    try await stream.run(&writer)
                }
            )
        }
    }
}

/// One client's event stream: polls for new transitions and store changes visible to the caller and
/// writes them as SSE events, until the client leaves, the server shuts down, or the stream's maximum
/// age passes (the client then reconnects with Last-Event-ID, which spreads long-lived connections
/// across replicas).
struct EventStream: Sendable {
    let gateway: Gateway
    let caller: Caller
    let after: Int64
    let storesSince: Date

    struct JobEvent: Codable, Sendable {
        var id: Int64
        var jobId: String
        var storeId: String?
        var kind: String
        var step: String?
        var position: Int?
        var attempt: Int
        var status: String
        var at: Date
        var durationMs: Double?
        var message: String?
    }

    struct StoreEvent: Codable, Sendable {
        var id: String
        var name: String
        var status: String
        var updatedAt: Date
    }

    /// Transaction IDs are not commit order: a row may become visible after a higher ID was already
    /// delivered. Re-reading this many IDs back, minus those already sent, catches such late commits.
    static let lookback: Int64 = 1000
    /// Events read per poll at most.
    static let page = 500

    func run(_ writer: inout any ResponseBodyWriter) async throws {
        let settings = gateway.settings
        let started = ContinuousClock.now
        var highest = after
        // Where the search for events starts, apart from the lookback behind the highest sent: a
        // tenant with few events would otherwise search from `after` through every other tenant's
        // events, more of them at every poll. Raised to the table's top minus the lookback once a poll
        // finds the stream caught up; the top of the poll before, not this one, so that a transaction
        // that took its ID then still has a poll interval to commit.
        var floor = after
        var previousTop: Int64?
        var sent = Set<Int64>()
        var since = storesSince
        var storeStates: [String: String] = [:]
        var lastWrite = ContinuousClock.now
        var lastTokenCheck = ContinuousClock.now
        try await writer.write(ByteBuffer(string: "retry: 3000\n: connected\n\n"))
        while !Task.isCancelled && !Task.isShuttingDownGracefully && ContinuousClock.now - started < .seconds(settings.eventStreamMaxSeconds) {
            // A revoked token stops working on its next request; a stream is one long request, so it
            // looks again every few seconds and ends when the token is gone.
            if ContinuousClock.now - lastTokenCheck > .seconds(Self.tokenCheckSeconds) {
                guard try await tokenStillValid() else { break }
                lastTokenCheck = ContinuousClock.now
            }
            var out = ""
            let top = try await Self.latestTransitionID(gateway.postgres)
            // Never below the starting point: what precedes it the client has (or did not ask for).
            let events = try await jobEvents(from: max(floor, highest - Self.lookback), above: highest, except: sent)
            for event in events where !sent.contains(event.id) {
                sent.insert(event.id)
                highest = max(highest, event.id)
                out += "id: \(highest)\nevent: job\ndata: \(String(decoding: JSONCoding.encode(event), as: UTF8.self))\n\n"
            }
            if events.count < Self.page, let previousTop { floor = max(floor, previousTop - Self.lookback) }
            previousTop = top
            sent = sent.filter { $0 > highest - Self.lookback }
            let (stores, newest) = try await storeEvents(since: since.addingTimeInterval(-2))
            for (event, version) in stores where storeStates[event.id] != version {
                storeStates[event.id] = version
                out += "event: store\ndata: \(String(decoding: JSONCoding.encode(event), as: UTF8.self))\n\n"
            }
            if let newest { since = max(since, newest) }
            if out.isEmpty && ContinuousClock.now - lastWrite > .seconds(15) { out = ": keep-alive\n\n" }
            if !out.isEmpty {
                try await writer.write(ByteBuffer(string: out))
                lastWrite = ContinuousClock.now
            }
            try? await Task.sleep(for: .seconds(settings.eventPollInterval))
        }
        // Tell the client this was deliberate, then end the response cleanly.
        try await writer.write(ByteBuffer(string: "event: close\ndata: {}\n\n"))
        try await writer.finish(nil)
    }

    static let tokenCheckSeconds = 5.0

    static func latestTransitionID(_ postgres: PostgresPool) async throws -> Int64 {
        try await postgres.query("SELECT coalesce(max(id), 0) AS id FROM job_transitions").first!.decode("id", as: Int64.self)
    }

    func tokenStillValid() async throws -> Bool {
        try await gateway.postgres.query("""
            SELECT 1 FROM api_tokens WHERE id = \(caller.tokenID) AND revoked_at IS NULL
            """).first != nil
    }

    /// Events after `from`: every one above `above` (the highest sent), and below it only those not in
    /// `except` (late commits). Leaving the sent ones out in the query, not after it, matters: with 500
    /// already-sent events in the lookback window, a LIMIT would return them again and again and
    /// never reach the new ones.
    func jobEvents(from id: Int64, above highest: Int64, except sent: Set<Int64>) async throws -> [JobEvent] {
        try await gateway.postgres.query("""
            SELECT t.id, t.job_id, j.store_id, j.kind, t.step, t.position, t.attempt, t.status, t.at, t.duration_ms, t.message
            FROM job_transitions t JOIN jobs j ON j.id = t.job_id
            WHERE t.id > \(id) AND (t.id > \(highest) OR t.id <> ALL(\(PostgresTextArray(sent.map(String.init)))::bigint[]))
              AND (\(caller.isAdmin) OR j.tenant_id = \(caller.tenantID))
            ORDER BY t.id LIMIT \(Self.page)
            """).rows.map { row in
            JobEvent(
                id: try row.decode("id"), jobId: try row.decode("job_id", as: UUID.self).lower,
                storeId: try row.decode("store_id", as: UUID?.self)?.lower, kind: try row.decode("kind"),
                step: try row.decode("step"), position: try row.decode("position"), attempt: try row.decode("attempt"),
                status: try row.decode("status"), at: try row.decode("at"), durationMs: try row.decode("duration_ms"),
                message: try row.decode("message")
            )
        }
    }

    func storeEvents(since: Date) async throws -> ([(StoreEvent, String)], Date?) {
        let rows = try await gateway.postgres.query("""
            SELECT id, name, status, updated_at, updated_at::text AS version FROM stores
            WHERE updated_at > \(since) AND (\(caller.isAdmin) OR tenant_id = \(caller.tenantID))
            ORDER BY updated_at LIMIT 500
            """).rows
        var events: [(StoreEvent, String)] = []
        var newest: Date?
        for row in rows {
            let event = StoreEvent(id: try row.decode("id", as: UUID.self).lower, name: try row.decode("name"),
                                   status: try row.decode("status"), updatedAt: try row.decode("updated_at"))
            events.append((event, "\(event.status)@\(try row.decode("version", as: String.self))"))
            newest = event.updatedAt
        }
        return (events, newest)
    }
}

import Foundation
import Hummingbird
import NIOCore
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
            // Store changes start from now whatever the client resumes from (on reconnect the dashboard
            // reloads its store list anyway); job events too, unless it resumes.
            let (start, seen) = try await EventStream.start(postgres)
            let storesAfter = EventStream.StoreCursor(xid: start.xid, id: nil)
            var after = start
            var jobsSeen: EventStream.Seen? = seen
            // An empty Last-Event-ID is no position (EventSource never sends one; the SSE spec's reset).
            if let last = request.headers[Self.lastEventIDHeader], !last.isEmpty {
                guard let cursor = EventStream.Cursor(last) else {
                    throw Problem.validation([.init("Last-Event-ID", "must be an event ID this stream sent")])
                }
                // Well formed but from another timeline: a conflict with this database's state, not bad input.
                guard try await EventStream.reached(cursor, postgres) else {
                    throw Problem(.conflict, "position-not-reached", "Conflict",
                                  detail: "Last-Event-ID names a position this database has not reached (restored or moved?); reconnect without it and reload",
                                  errors: [.init("Last-Event-ID", "names a position this database has not reached")])
                }
                after = cursor
                jobsSeen = nil
            }
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
            // The slot is freed when the stream ends, and in any case when the response is dropped (a
            // body that never started writing); a client that vanishes is noticed within a poll
            // interval (ConnectionGuard closes a connection whose client half-closed it).
            let openStreams = openStreams, tenant = caller.tenantID
            let slot = StreamSlot { openStreams.withLock { _ = $0[tenant]?.removeValue(forKey: streamID) } }
            // A channel that was never open has no client to lose (an in-process test's router).
            let channel = context.channel, wasActive = channel.isActive
            let stream = EventStream(gateway: self, caller: caller, after: after, storesAfter: storesAfter,
                                     jobsSeen: jobsSeen, storesSeen: seen, connected: { !wasActive || channel.isActive })
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", HTTPFields.Element.Name("X-Accel-Buffering")!: "no"],
                body: ResponseBody { writer in
                    defer { slot.release() }
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
    let after: Cursor
    let storesAfter: StoreCursor
    /// What a fresh stream leaves out: changes already committed when it began. Its start (the horizon)
    /// lies at the oldest transaction then still open, so changes committed after that one began, but
    /// before the stream did, lie above the start and would arrive as if they were new.
    let jobsSeen: Seen?
    let storesSeen: Seen?
    /// Whether the client's connection is still open.
    let connected: @Sendable () -> Bool

    /// A Postgres snapshot taken with a stream's start, as `pg_current_snapshot()` writes it. Every
    /// transaction it shows as ended had ended before the stream began.
    struct Seen: Sendable, Equatable {
        var snapshot: String
        /// The snapshot's xmax: no transaction from here on had ended, so a cursor past it needs no filter.
        var xmax: Int64

        /// The filter for a cursor at `xid`: nil once the cursor is past everything the snapshot saw.
        func filter(at xid: Int64) -> String? { xid < xmax ? snapshot : nil }
    }

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

    /// Where a stream stands in the history: transitions are read in (writing transaction's ID, row ID)
    /// order, and only from transactions that have ended (below `job_event_horizon()`, the snapshot's
    /// oldest transaction of this database still in progress). A transaction ID below it can never gain rows again, so a cursor in that order never skips a late commit, however
    /// long the transaction that wrote it stayed open. Row IDs alone are not commit order: an ID is
    /// taken before its transaction commits, and a stream reading by ID would pass a row that commits
    /// after a higher one was sent (as the former 1,000-ID look-back could under load).
    struct Cursor: Sendable, Equatable {
        /// The writing transaction's xid8 (kept as bigint).
        var xid: Int64
        var id: Int64

        init(xid: Int64, id: Int64) {
            self.xid = xid
            self.id = id
        }

        /// The SSE `id` of an event: the cursor itself ("<xid>-<transition id>"), so that a client resumes
        /// exactly where the stream was, with no lookup that could name a row the client never got from
        /// the stream (or reveal whether another tenant's transition exists).
        init?(_ text: String) {
            // Digits only, at most 18 of them each (as the document's pattern says; Int64 alone would take "+5").
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ (1...18).contains($0.utf8.count) && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }),
                  let xid = Int64(parts[0]), let id = Int64(parts[1]) else { return nil }
            self.init(xid: xid, id: id)
        }

        var eventID: String { "\(xid)-\(id)" }
    }

    /// Events read per poll at most.
    static let page = 500

    func run(_ writer: inout any ResponseBodyWriter) async throws {
        let settings = gateway.settings
        let started = ContinuousClock.now
        var cursor = after
        var storeCursor = storesAfter
        var lastWrite = ContinuousClock.now
        var lastTokenCheck = ContinuousClock.now
        var failingSince: ContinuousClock.Instant?
        try await writer.write(ByteBuffer(string: "retry: 3000\n: connected\n\n"))
        while !Task.isCancelled && !Task.isShuttingDownGracefully && ContinuousClock.now - started < .seconds(settings.eventStreamMaxSeconds) {
            // The client left: nothing more to write, and its slot goes back to the tenant now.
            guard connected() else { throw ChannelError.ioOnClosedChannel }
            // A revoked token stops working on its next request; a stream is one long request, so it
            // looks again every few seconds and ends when the token is gone.
            let events: [(cursor: Cursor, body: JobEvent)], next: Cursor
            let stores: [StoreEvent], nextStore: StoreCursor
            do {
                if ContinuousClock.now - lastTokenCheck > .seconds(Self.tokenCheckSeconds) {
                    guard try await tokenStillValid() else { break }
                    lastTokenCheck = ContinuousClock.now
                }
                (events, next) = try await jobEvents(after: cursor)
                (stores, nextStore) = try await storeEvents(after: storeCursor)
                failingSince = nil
            } catch {
                // A database hiccup (a restart, a full pool) is waited out, with keep-alives, for a
                // while: the stream picks up where it was. Longer, and the stream ends; the client
                // reconnects with Last-Event-ID and misses nothing either way.
                if Task.isCancelled { throw error }
                let since = failingSince ?? ContinuousClock.now
                failingSince = since
                guard ContinuousClock.now - since < .seconds(Self.outageTolerance) else { throw error }
                if ContinuousClock.now - lastWrite > .seconds(15) {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    lastWrite = ContinuousClock.now
                }
                try? await Task.sleep(for: .seconds(max(settings.eventPollInterval, 0.5)))
                continue
            }
            var out = ""
            for event in events {
                out += "id: \(event.cursor.eventID)\nevent: job\ndata: \(String(decoding: JSONCoding.encode(event.body), as: UTF8.self))\n\n"
            }
            cursor = next
            for event in stores {
                out += "event: store\ndata: \(String(decoding: JSONCoding.encode(event), as: UTF8.self))\n\n"
            }
            storeCursor = nextStore
            if out.isEmpty && ContinuousClock.now - lastWrite > .seconds(15) { out = ": keep-alive\n\n" }
            if !out.isEmpty {
                try await writer.write(ByteBuffer(string: out))
                lastWrite = ContinuousClock.now
            }
            // A full page means more is waiting: read on at once.
            if events.count < Self.page && stores.count < Self.page { try? await Task.sleep(for: .seconds(settings.eventPollInterval)) }
        }
        // Tell the client this was deliberate, then end the response cleanly.
        try await writer.write(ByteBuffer(string: "event: close\ndata: {}\n\n"))
        try await writer.finish(nil)
    }

    static let tokenCheckSeconds = 5.0
    /// How long a stream waits out failing database reads before it ends.
    static let outageTolerance = 20.0

    /// A new stream's start and what it has already seen: everything from transactions still open (or
    /// not yet begun) is to come; what had committed is not, even above the start.
    static func start(_ postgres: PostgresPool) async throws -> (Cursor, Seen) {
        // job_event_horizon(): migration 0008 says what it leaves out and why. One statement, so both
        // come from one snapshot.
        let row = try await postgres.query("""
            SELECT job_event_horizon() AS xmin, pg_current_snapshot()::text AS seen,
                   pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax
            """).first!
        return (Cursor(xid: try row.decode("xmin", as: Int64.self), id: -1),
                Seen(snapshot: try row.decode("seen"), xmax: try row.decode("xmax", as: Int64.self)))
    }

    /// Whether a cursor a client sent lies in this database's past: a cursor from before a dump and
    /// restore (or a move to another cluster) can lie beyond every transaction ID here, and a stream
    /// resumed there would stay silent until the IDs caught up.
    static func reached(_ cursor: Cursor, _ postgres: PostgresPool) async throws -> Bool {
        try await postgres.query("""
            SELECT \(cursor.xid) < pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS reached
            """).first!.decode("reached", as: Bool.self)
    }

    func tokenStillValid() async throws -> Bool {
        try await gateway.postgres.query("""
            SELECT 1 FROM api_tokens WHERE id = \(caller.tokenID) AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            """).first != nil
    }

    /// The caller's events after `cursor` from ended transactions, in cursor order, and where the next
    /// read starts. When the page is not full, every ended transaction below this read's xmin has been
    /// looked at, so the cursor moves up to that xmin even past other tenants' rows: a quiet tenant's
    /// stream does not scan the same foreign rows again at every poll.
    func jobEvents(after cursor: Cursor) async throws -> ([(cursor: Cursor, body: JobEvent)], Cursor) {
        let seen = jobsSeen?.filter(at: cursor.xid)
        let rows = try await gateway.postgres.query("""
            WITH h AS (SELECT job_event_horizon() AS xmin)
            SELECT t.id, t.xid, t.job_id, j.store_id, j.kind, t.step, t.position, t.attempt, t.status, t.at,
                   t.duration_ms, t.message, h.xmin AS horizon
            FROM h LEFT JOIN LATERAL (
                SELECT * FROM job_transitions t
                -- `t.xid >= cursor` on its own is what the BRIN index can use.
                WHERE t.xid >= \(cursor.xid) AND (t.xid, t.id) > (\(cursor.xid), \(cursor.id)) AND t.xid < h.xmin
                  AND (\(seen)::text IS NULL OR NOT pg_visible_in_snapshot(t.xid::text::xid8, \(seen)::text::pg_snapshot))
                  AND EXISTS (SELECT 1 FROM jobs j WHERE j.id = t.job_id AND (\(caller.isAdmin) OR j.tenant_id = \(caller.tenantID)))
                ORDER BY t.xid, t.id LIMIT \(Self.page)
            ) t ON true
            LEFT JOIN jobs j ON j.id = t.job_id
            ORDER BY t.xid, t.id
            """).rows
        var events: [(cursor: Cursor, body: JobEvent)] = []
        var next = cursor
        var horizon = cursor.xid
        for row in rows {
            horizon = try row.decode("horizon", as: Int64.self)
            guard let id = try row.decode("id", as: Int64?.self) else { continue }
            next = Cursor(xid: try row.decode("xid", as: Int64.self), id: id)
            events.append((next, JobEvent(
                id: id, jobId: try row.decode("job_id", as: UUID.self).lower,
                storeId: try row.decode("store_id", as: UUID?.self)?.lower, kind: try row.decode("kind"),
                step: try row.decode("step"), position: try row.decode("position"), attempt: try row.decode("attempt"),
                status: try row.decode("status"), at: try row.decode("at"), durationMs: try row.decode("duration_ms"),
                message: try row.decode("message")
            )))
        }
        if let top = Self.caughtUp(next.xid, horizon: horizon, full: events.count == Self.page) { next = Cursor(xid: top, id: -1) }
        return (events, next)
    }

    /// Where a cursor at `xid` moves after a read: up to the horizon when the read was not full, since
    /// every ended transaction below the horizon has then been looked at, even past other tenants' rows
    /// (a quiet tenant's stream does not rescan them at every poll); nil to stay.
    static func caughtUp(_ xid: Int64, horizon: Int64, full: Bool) -> Int64? {
        !full && horizon > xid ? horizon : nil
    }

    /// Where a stream stands in store changes: the changing transaction and the store, in that order.
    struct StoreCursor: Sendable, Equatable {
        var xid: Int64
        /// nil: before every store that transaction changed.
        var id: UUID?
    }

    /// The caller's store changes after `cursor`, read as job events are (see `jobEvents`): each store
    /// once per committed change, in the order of the transactions that made them.
    func storeEvents(after cursor: StoreCursor) async throws -> ([StoreEvent], StoreCursor) {
        let seen = storesSeen?.filter(at: cursor.xid)
        let rows = try await gateway.postgres.query("""
            WITH h AS (SELECT job_event_horizon() AS xmin)
            SELECT s.id, s.change_xid AS xid, s.name, s.status, s.updated_at, h.xmin AS horizon
            FROM h LEFT JOIN LATERAL (
                SELECT * FROM stores s
                WHERE s.change_xid >= \(cursor.xid)
                  AND (s.change_xid > \(cursor.xid) OR \(cursor.id)::uuid IS NULL OR s.id > \(cursor.id)::uuid)
                  AND s.change_xid < h.xmin
                  AND (\(seen)::text IS NULL OR NOT pg_visible_in_snapshot(s.change_xid::text::xid8, \(seen)::text::pg_snapshot))
                  AND (\(caller.isAdmin) OR s.tenant_id = \(caller.tenantID))
                ORDER BY s.change_xid, s.id LIMIT \(Self.page)
            ) s ON true
            ORDER BY s.change_xid, s.id
            """).rows
        var events: [StoreEvent] = []
        var next = cursor
        var horizon = cursor.xid
        for row in rows {
            horizon = try row.decode("horizon", as: Int64.self)
            guard let id = try row.decode("id", as: UUID?.self) else { continue }
            next = StoreCursor(xid: try row.decode("xid", as: Int64.self), id: id)
            events.append(StoreEvent(id: id.lower, name: try row.decode("name"), status: try row.decode("status"),
                                     updatedAt: try row.decode("updated_at")))
        }
        if let top = Self.caughtUp(next.xid, horizon: horizon, full: events.count == Self.page) { next = StoreCursor(xid: top, id: nil) }
        return (events, next)
    }
}

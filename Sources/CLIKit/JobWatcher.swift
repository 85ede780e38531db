import Foundation
import KubeClient
import ServiceRuntime

/// Follows one job until it ends: `--wait` and `jobs watch`.
///
/// It listens to `GET /api/events` and re-reads the job (`GET /api/jobs/{id}`, the authoritative
/// snapshot) whenever one of its transitions arrives, and once right after each (re)connection, so
/// nothing between the first read and the stream opening is missed. A dropped stream is reopened with
/// `Last-Event-ID` after a jittered, capped backoff; while the stream cannot be had (the tenant's
/// stream limit, a proxy that buffers, repeated failures) the job is polled instead. A server that stays
/// unreachable for `outageLimit` seconds ends the watch as unreachable; `deadline` ends it as timed out.
public final class JobWatcher: @unchecked Sendable {
    let client: APIClient
    let renderer: any JobRenderer
    let deadline: Date?
    public var pollInterval: Double = 2
    public var outageLimit: Double = 120
    var backoff = Backoff(initialDelay: 0.5, multiplier: 2, maxDelay: 5)
    let log: (String) -> Void

    public init(client: APIClient, renderer: any JobRenderer, deadline: Date?, log: @escaping (String) -> Void) {
        self.client = client
        self.renderer = renderer
        self.deadline = deadline
        self.log = log
    }

    static func isTerminal(_ job: JSON) -> Bool {
        ["succeeded", "failed", "cancelled"].contains(job["status"]?.string ?? "")
    }

    /// Watches until the job ends; returns its last snapshot. Throws `timedOut`, or what the API said.
    public func watch(jobID: String) throws(CLIError) -> JSON {
        var job = try fetch(jobID)
        renderer.update(job)
        var lastEventID: String?
        var streamFailures = 0
        var pollRounds = 0
        var lastContact = Date()
        while !Self.isTerminal(job) {
            try checkDeadline()
            if pollRounds > 0 {
                // Polling: the stream is out of reach for now; try it again every tenth round.
                pollRounds -= 1
                Thread.sleep(forTimeInterval: min(pollInterval, remaining() ?? pollInterval))
                do {
                    job = try fetch(jobID)
                    lastContact = Date()
                    renderer.update(job)
                } catch where error.status == .unreachable || error.status == .failure {
                    // A gateway restarting behind a proxy answers 502/503 for a while: an outage, not an end.
                    guard Date().timeIntervalSince(lastContact) < outageLimit else { throw error }
                }
                continue
            }
            let opened = Date()
            let outcome = follow(jobID, after: lastEventID)
            if let snapshot = outcome.job { job = snapshot }
            if let id = outcome.lastEventID { lastEventID = id }
            if outcome.connected { lastContact = Date() }
            switch outcome.end {
            case .jobEnded:
                break
            case .serverClosed:
                // A stream the server (or a proxy) ends within seconds is no stream: wait as it asks
                // (`retry:`) and back off, and after a few such, poll, instead of reconnecting in a loop.
                if Date().timeIntervalSince(opened) < 5 {
                    streamFailures += 1
                    if streamFailures >= 5 { pollRounds = 5 }
                    let delay = max(Double(outcome.retryMilliseconds ?? 0) / 1000, backoff.delay(attempt: streamFailures))
                    Thread.sleep(forTimeInterval: min(delay, remaining() ?? delay))
                } else {
                    streamFailures = 0
                }
            case .deadline:
                try checkDeadline()
            case .refused(let error):
                if error.status == .unauthorized || error.status == .notFound { throw error }
                if error.problemType == "position-not-reached" {
                    lastEventID = nil  // the database was restored or moved; start from now (the job is re-read anyway)
                } else {
                    log("note: cannot follow events (\(error.message)); polling every \(Int(pollInterval)) s")
                    pollRounds = 10
                }
            case .failed(let error):
                if error.status == .unauthorized || error.status == .notFound || error.status == .timedOut { throw error }
                streamFailures += 1
                if Date().timeIntervalSince(lastContact) >= outageLimit {
                    throw CLIError(.unreachable, "cannot reach \(client.target.server) for \(Int(outageLimit)) s: \(error.message)")
                }
                if streamFailures >= 5 { pollRounds = 5 }
                let delay = backoff.delay(attempt: streamFailures)
                Thread.sleep(forTimeInterval: min(delay, remaining() ?? delay))
            }
        }
        renderer.finish(job)
        return job
    }

    enum End {
        case jobEnded, serverClosed, deadline
        /// The server answered the stream request with an error.
        case refused(CLIError)
        /// No stream: the connection failed or dropped, or reading the job failed.
        case failed(CLIError)
    }

    struct Outcome {
        var end: End
        var job: JSON?
        var lastEventID: String?
        var retryMilliseconds: Int?
        var connected = false
    }

    private func follow(_ jobID: String, after lastEventID: String?) -> Outcome {
        var headers = [("Accept", "text/event-stream"), ("User-Agent", "storefleet-cli/1")]
        if let token = client.target.token { headers.append(("Authorization", "Bearer \(token)")) }
        if let lastEventID { headers.append(("Last-Event-ID", lastEventID)) }
        // Without a deadline, an hour: the server ends streams sooner (EVENTS_MAX_STREAM) and the loop reopens.
        let request = HTTPRequest(method: "GET", url: client.url("/api/events", []), headers: headers, timeout: min(remaining() ?? 3600, 3600))
        client.trace(request)
        var parser = ServerSentEventParser()
        var outcome = Outcome(end: .serverClosed, lastEventID: lastEventID)
        var errorBody: [UInt8] = []
        var isStream: Bool?
        var lastFetch = Date.distantPast
        let result = client.transport.stream(request, idleTimeout: 40) { [self] chunk in
            if isStream == nil {
                // The first bytes of an error answer are its problem+json, not events.
                isStream = !(chunk.first == UInt8(ascii: "{"))
            }
            guard isStream == true else {
                errorBody += chunk
                return errorBody.count < 65_536
            }
            outcome.connected = true
            var dirty = false, closed = false
            let events = parser.feed(chunk)
            // The parser's ID, not only dispatched events': an `id:` line alone also moves the position.
            if let id = parser.lastEventID { outcome.lastEventID = id }
            outcome.retryMilliseconds = parser.retryMilliseconds
            for event in events {
                switch event.event {
                case "job":
                    if let data = try? JSON(parsing: Data(event.data.utf8)), data["job_id"]?.string == jobID { dirty = true }
                case "close": closed = true
                default: break
                }
            }
            // Once after connecting (the ": connected" comment), on every transition of this job, and every
            // 15 s in any case: a snapshot is the truth, events only say when to look.
            if dirty || lastFetch == .distantPast || Date().timeIntervalSince(lastFetch) > 15 {
                lastFetch = Date()
                do {
                    let job = try fetch(jobID)
                    outcome.job = job
                    renderer.update(job)
                    if Self.isTerminal(job) {
                        outcome.end = .jobEnded
                        return false
                    }
                } catch let error as CLIError {
                    outcome.end = .failed(error)
                    return false
                } catch {
                    outcome.end = .failed(CLIError(.failure, "\(error)"))
                    return false
                }
            }
            if closed { return false }
            if let deadline, Date() >= deadline {
                outcome.end = .deadline
                return false
            }
            return true
        }
        switch result {
        case .failure(let failure):
            if case .jobEnded = outcome.end { return outcome }
            if client.verbose { log("* event stream: \(failure.message)") }
            if failure.timedOut, let deadline, Date() >= deadline {
                outcome.end = .deadline
            } else if case .failed = outcome.end {
            } else {
                outcome.end = .failed(CLIError(.unreachable, "event stream: \(failure.message)"))
            }
        case .success(let response):
            client.trace(HTTPResponse(status: response.status, headers: response.headers, body: errorBody), secret: false)
            if !(200..<300).contains(response.status) {
                let problem = (try? JSON(parsing: Data(errorBody))) ?? .null
                let error = APIClient.error(status: response.status, problem: problem, requestID: response.header("X-Request-ID"))
                // A 5xx is a gateway (or a proxy before it) in trouble: retried like a dropped connection.
                outcome.end = response.status >= 500 ? .failed(error) : .refused(error)
            }
        }
        return outcome
    }

    private func fetch(_ jobID: String) throws(CLIError) -> JSON {
        try client.call("GET", "/api/jobs/\(jobID)", deadline: deadline).json
    }

    private func remaining() -> Double? {
        deadline.map { max(0.05, $0.timeIntervalSinceNow) }
    }

    private func checkDeadline() throws(CLIError) {
        if let deadline, Date() >= deadline {
            throw CLIError(.timedOut, "the job did not end within the timeout; it goes on (storefleet jobs watch to follow it again)")
        }
    }
}

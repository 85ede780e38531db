import Foundation
import KubeClient
import Testing
@testable import CLIKit

@Suite struct ServerSentEventParserTests {
    @Test func eventsSplitAnywhereAreReassembled() {
        let text = "retry: 3000\r\n: connected\r\n\r\nid: 7-1\r\nevent: job\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\nevent: store\ndata: x\n\n"
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        // One byte at a time: chunk boundaries fall inside CRLF, field names and UTF-8.
        for byte in Array(text.utf8) { events += parser.feed([byte]) }
        #expect(events == [
            ServerSentEvent(event: "job", data: "{\"a\":\n1}", id: "7-1"),
            // An event without an id keeps the last one: that is where a reconnect resumes.
            ServerSentEvent(event: "store", data: "x", id: "7-1"),
        ])
        #expect(parser.lastEventID == "7-1")
    }

    @Test func aByteOrderMarkAndRetryAdviceAreRead() {
        var parser = ServerSentEventParser()
        var events = parser.feed([0xEF])
        events += parser.feed([0xBB, 0xBF] + Array("retry: 3000\nevent: job\ndata: x\n\n".utf8))
        #expect(events == [ServerSentEvent(event: "job", data: "x", id: nil)])
        #expect(parser.retryMilliseconds == 3000)
    }

    @Test func commentsAndEventsWithoutDataDispatchNothing() {
        var parser = ServerSentEventParser()
        #expect(parser.feed(Array(": keep-alive\n\nevent: job\n\nid: 9-9\n\n".utf8)).isEmpty)
        #expect(parser.lastEventID == "9-9")
    }
}

@Suite struct JobWatcherTests {
    static func job(_ status: String, step: String = "pending") -> String {
        #"{"id":"J","kind":"store.create","status":"\#(status)","progress":0.5,"steps":[{"name":"namespace","position":0,"status":"succeeded","attempts":1},{"name":"release","position":1,"status":"\#(step)","attempts":2,"message":"helm upgrade"}]}"#
    }

    @Test func aDroppedStreamResumesFromTheLastEventID() throws {
        let event = "id: 41-7\nevent: job\ndata: {\"job_id\":\"J\",\"status\":\"running\"}\n\n"
        let other = "id: 41-8\nevent: job\ndata: {\"job_id\":\"OTHER\",\"status\":\"running\"}\n\n"
        let transport = ScriptedTransport([
            .stream([": connected\n\n", event, other, "event: close\ndata: bye\n\n"]),
            .fail(TransportFailure(message: "Connection refused", neverSent: true, timedOut: false)),
            .stream([": connected\n\n"]),
        ])
        transport.jobSnapshots = [Self.job("queued"), Self.job("running", step: "running"), Self.job("running", step: "running"), Self.job("succeeded", step: "succeeded")]
        let captured = CapturedConsole()
        let watcher = JobWatcher(client: client(transport), renderer: PlainJobRenderer(console: captured.console), deadline: Date().addingTimeInterval(30)) { _ in }
        watcher.backoff = .init(initialDelay: 0.01, maxDelay: 0.01)
        let final = try watcher.watch(jobID: "J")
        #expect(final["status"]?.string == "succeeded")
        let streams = transport.requests.enumerated().filter { $0.element.url.hasSuffix("/api/events") }
        #expect(streams.count == 3)
        #expect(transport.header("Last-Event-ID", of: streams[0].offset) == nil)
        // The last ID seen, even one of another job's event, is where the stream picks up again.
        #expect(transport.header("Last-Event-ID", of: streams[1].offset) == "41-8")
        #expect(transport.header("Last-Event-ID", of: streams[2].offset) == "41-8")
        #expect(captured.out.contains("store.create J step release running (attempt 2)"))
        #expect(captured.out.hasSuffix("store.create J succeeded\n"))
    }

    @Test func withoutAStreamItPollsAndStillEnds() throws {
        let transport = ScriptedTransport([.answer(HTTPResponse(status: 429, body: Array(#"{"type":"https://storefleet.dev/problems/too-many-streams","detail":"too many"}"#.utf8)))])
        transport.jobSnapshots = [Self.job("running", step: "running"), Self.job("running", step: "running"), Self.job("failed", step: "failed")]
        var notes: [String] = []
        let watcher = JobWatcher(client: client(transport), renderer: PlainJobRenderer(console: CapturedConsole().console), deadline: Date().addingTimeInterval(30)) { notes.append($0) }
        watcher.pollInterval = 0.01
        let final = try watcher.watch(jobID: "J")
        #expect(final["status"]?.string == "failed")
        #expect(notes.contains { $0.contains("polling") })
    }

    @Test func streamsThatEndAtOnceAreBackedOffNotHammered() throws {
        // A proxy that answers 200 and closes: the watcher must not reconnect in a tight loop.
        let transport = ScriptedTransport(Array(repeating: .stream(["retry: 50\n\n"]), count: 20))
        transport.jobSnapshots = [Self.job("running", step: "running")]
        let watcher = JobWatcher(client: client(transport), renderer: PlainJobRenderer(console: CapturedConsole().console), deadline: Date().addingTimeInterval(1)) { _ in }
        watcher.backoff = .init(initialDelay: 0.01, maxDelay: 0.02)
        watcher.pollInterval = 0.1
        #expect { try watcher.watch(jobID: "J") } throws: { ($0 as! CLIError).status == .timedOut }
        let streams = transport.requests.filter { $0.url.hasSuffix("/api/events") }.count
        #expect(streams <= 12)  // each waited at least the server's 50 ms, then polling took over
    }

    @Test func aGatewayAnswering503IsAnOutageNotTheEnd() throws {
        let unavailable = ScriptedTransport.Step.answer(HTTPResponse(status: 503, body: Array(#"{"detail":"no upstream"}"#.utf8)))
        let transport = ScriptedTransport([unavailable, unavailable, .stream([": connected\n\n"])])
        transport.jobSnapshots = [Self.job("running", step: "running"), Self.job("succeeded", step: "succeeded")]
        let watcher = JobWatcher(client: client(transport), renderer: PlainJobRenderer(console: CapturedConsole().console), deadline: Date().addingTimeInterval(30)) { _ in }
        watcher.backoff = .init(initialDelay: 0.01, maxDelay: 0.01)
        #expect(try watcher.watch(jobID: "J")["status"]?.string == "succeeded")
    }

    @Test func theDeadlineEndsTheWatchAsTimedOut() {
        let transport = ScriptedTransport([])
        transport.jobSnapshots = [Self.job("running", step: "running")]
        let watcher = JobWatcher(client: client(transport), renderer: PlainJobRenderer(console: CapturedConsole().console), deadline: Date().addingTimeInterval(0.3)) { _ in }
        watcher.pollInterval = 0.05
        watcher.backoff = .init(initialDelay: 0.01, maxDelay: 0.05)
        #expect { try watcher.watch(jobID: "J") } throws: { ($0 as! CLIError).status == .timedOut }
    }

    @Test func aTerminalShowsStepsWithABarAttemptsAndMessages() {
        let captured = CapturedConsole()
        captured.console.terminal = Terminal(isTerminal: true, width: 60, color: false)
        let renderer = LiveJobRenderer(console: captured.console)
        let lines = renderer.render(try! JSON(parsing: Data(Self.job("running", step: "running").utf8)))
        #expect(lines[0].contains("running") && lines[0].contains("[############............] 50%"))
        #expect(lines[1].hasPrefix("  ✓ namespace"))
        #expect(lines[2].contains("▸ release") && lines[2].contains("attempt 2") && lines[2].contains("helm upgrade"))
        #expect(lines.allSatisfy { $0.count < 60 })
        renderer.update(try! JSON(parsing: Data(Self.job("running", step: "running").utf8)))
        renderer.update(try! JSON(parsing: Data(Self.job("succeeded", step: "succeeded").utf8)))
        // The second drawing moves back up over the first (3 lines) instead of scrolling.
        #expect(captured.out.contains("\u{1B}[3A"))
    }
}

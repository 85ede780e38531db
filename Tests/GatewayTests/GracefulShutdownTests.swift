import Foundation
@testable import ServiceRuntime
import Testing
import TestSupport

/// The real executable on SIGTERM: it stops accepting, ends event streams cleanly (a final `close`
/// event and a properly terminated response), and exits 0.
@Suite struct GracefulShutdownTests {
    @Test func sigtermClosesEventStreamsCleanlyAndExitsZero() async throws {
        try await withTestDatabase { database in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("gw"))
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let log = directory.appendingPathComponent("gateway.log").path
            let streamed = directory.appendingPathComponent("events.txt").path
            let token = "sfk_" + String(repeating: "s", count: 40)
            let gateway = try ChildProcess.spawn(
                TestEnvironment.productsDirectory.appendingPathComponent("storefleet-gateway").path, [],
                environment: [
                    "DATABASE_URL": database.url, "REDIS_URL": try TestEnvironment.redisURL(), "GATEWAY_PORT": "0",
                    "LOG_FORMAT": "json", "PATH": "/usr/bin:/bin", "BOOTSTRAP_ADMIN_TOKEN": token,
                    "REDIS_KEY_PREFIX": TestEnvironment.uniqueName("gw"), "EVENTS_POLL_INTERVAL": "100ms",
                ],
                stderrPath: log
            )
            func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
            func waitFor(_ seconds: Double, _ condition: () -> Bool) async throws -> Bool {
                let deadline = ContinuousClock.now + .seconds(seconds)
                while ContinuousClock.now < deadline {
                    if condition() { return true }
                    try await Task.sleep(for: .milliseconds(50))
                }
                return condition()
            }
            guard try await waitFor(60, { text(log).contains("gateway ready") }),
                  let line = text(log).split(separator: "\n").first(where: { $0.contains("gateway ready") }),
                  let port = line.firstMatch(of: /:(\d+)\\?"/)?.1 ?? line.firstMatch(of: /:(\d+)/)?.1 else {
                gateway.signal(SIGKILL)
                Issue.record("the gateway did not become ready: \(text(log))")
                return
            }
            #expect(!text(log).contains(token), "the token is never logged")
            let curl = try ChildProcess.spawn(
                "/usr/bin/curl", ["-sN", "-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(port)/api/events"],
                stdoutPath: streamed
            )
            #expect(try await waitFor(10) { text(streamed).contains(": connected") })

            gateway.signal(SIGTERM)
            let exit = await gateway.wait()
            #expect(exit.exitCode == 0, "gateway exit \(exit)")
            let curlExit = await curl.wait()
            #expect(curlExit.exitCode == 0, "curl saw a cleanly terminated response: \(curlExit)")
            #expect(text(streamed).contains("event: close"))
            #expect(text(log).contains("gateway stopped"))
        }
    }
}

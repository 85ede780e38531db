import Foundation
import ServiceRuntime
import Testing

/// How the worker stops helm: a cancelled step or a timeout sends SIGTERM to helm's process group (so
/// helm can record what it was doing), then SIGKILL after a grace period.
@Suite("Child processes")
struct ChildProcessTests {
    @Test("cancelling the caller stops the program with SIGTERM, promptly")
    func cancellationTerminates() async throws {
        let started = ContinuousClock.now
        let task = Task {
            try await ChildProcess.run("/bin/sh", ["-c", "trap 'echo terminated >&2; exit 143' TERM; sleep 30 & wait"], timeout: 60)
        }
        try await Task.sleep(for: .milliseconds(500))
        task.cancel()
        let outcome = try await task.value
        #expect(outcome.exitCode == 143)
        #expect(String(decoding: outcome.stderr, as: UTF8.self).contains("terminated"))
        #expect(!outcome.timedOut)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("a program that ignores SIGTERM is killed after the grace period; a timeout says so")
    func graceThenKill() async throws {
        let started = ContinuousClock.now
        let outcome = try await ChildProcess.run("/bin/sh", ["-c", "trap '' TERM; sleep 30"], timeout: 0.5, terminationGrace: 1)
        #expect(outcome.timedOut)
        #expect(outcome.signal == SIGKILL)
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}

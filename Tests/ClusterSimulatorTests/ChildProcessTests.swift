import Foundation
@testable import ServiceRuntime
import Testing

/// How the worker stops helm: a cancelled step or a timeout sends SIGTERM to helm's process group (so
/// helm can record what it was doing), then SIGKILL after a grace period.
@Suite("Child processes")
struct ChildProcessTests {
    @Test("cancelling the caller stops the program with SIGTERM, promptly")
    func cancellationTerminates() async throws {
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("child-ready-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: ready) }
        let started = ContinuousClock.now
        let task = Task {
            try await ChildProcess.run("/bin/sh", ["-c", "trap 'echo terminated >&2; exit 143' TERM; touch \"$0\"; sleep 30 & wait", ready], timeout: 60)
        }
        // Once the program has set its trap (on a loaded machine, starting it can take a while).
        while !FileManager.default.fileExists(atPath: ready), ContinuousClock.now - started < .seconds(20) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let cancelled = ContinuousClock.now
        task.cancel()
        let outcome = try await task.value
        #expect(outcome.exitCode == 143, "signal \(String(describing: outcome.signal)) stderr \(outcome.standardError)")
        #expect(String(decoding: outcome.stderr, as: UTF8.self).contains("terminated"))
        #expect(!outcome.timedOut)
        #expect(ContinuousClock.now - cancelled < .seconds(10))
    }

    @Test("a program inherits no descriptor of the worker but its standard three, even one made without close-on-exec")
    func inheritsNoDescriptors() async throws {
        // As hiredis and libcurl make their sockets: without O_CLOEXEC.
        let leaked = open("/dev/null", O_RDONLY)
        #expect(leaked > 2)
        defer { close(leaked) }
        let listing = try await ChildProcess.run("/bin/ls", ["-1", "/proc/self/fd"], timeout: 30)
        let open = Set(listing.standardOutput.split(separator: "\n").compactMap { Int32($0) })
        #expect(!open.contains(leaked), "inherited descriptors: \(open.sorted())")
        #expect(open.isSuperset(of: [0, 1, 2]) && open.count <= 4, "0, 1, 2 and the directory ls reads: \(open.sorted())")
    }

    /// The caller's own timeout cannot fire while the caller is frozen (SIGSTOP, a paused VM); the
    /// watchdog's can. Here the caller enforces nothing at all, as a frozen one would not.
    @Test("a program outliving its hard limit is killed by its watchdog, with no help from its caller")
    func watchdogKillsWithoutTheCaller() async throws {
        let null = open("/dev/null", O_RDWR)
        defer { close(null) }
        let started = ContinuousClock.now
        let (pid, watchdog) = try ChildProcess.launchBound("/bin/sleep", ["60"], environment: nil, stdin: null, stdout: null, stderr: null, hardLimit: 1)
        #expect(watchdog > 0)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        #expect(status & 0x7F == SIGKILL, "killed, not exited: \(status)")
        #expect(ContinuousClock.now - started < .seconds(30), "long before its own 60 s")
        var ignored: Int32 = 0
        while waitpid(watchdog, &ignored, 0) < 0 && errno == EINTR {}
    }

    @Test("a program is found on PATH as execvp finds it; a missing one is an error that names it")
    func pathSearch() async throws {
        let found = try await ChildProcess.run("sh", ["-c", "exit 3"], timeout: 30)
        #expect(found.exitCode == 3)
        await #expect(throws: ChildProcess.SpawnError.self) {
            _ = try await ChildProcess.run("storefleet-no-such-program", [], timeout: 30)
        }
        do {
            _ = try await ChildProcess.run("/nonexistent/helm", [], timeout: 30)
            Issue.record("ran a program that does not exist")
        } catch {
            #expect("\(error)".contains("/nonexistent/helm") && "\(error)".contains("No such file"))
        }
    }

    @Test("programs started at the same time do not hold each other's pipes open")
    func concurrentProgramsFinishOnTheirOwn() async throws {
        // Each `cat` ends when its input ends; each sleeper lives 8 s. Spawned together from many
        // threads, a sleeper that inherited a cat's stdin (or stdout) would keep that cat waiting 8 s.
        // The margin is wide so that a busy machine (the suites run in parallel with builds) cannot
        // pass for a leaked pipe.
        let slowest = try await withThrowingTaskGroup(of: Duration?.self) { group in
            for index in 0..<40 {
                group.addTask {
                    if index % 2 == 0 {
                        _ = try await ChildProcess.run("/bin/sleep", ["8"], timeout: 20)
                        return nil
                    }
                    let started = ContinuousClock.now
                    let outcome = try await ChildProcess.run("/bin/cat", [], input: Array("line \(index)\n".utf8), timeout: 10)
                    #expect(outcome.standardOutput == "line \(index)\n")
                    return ContinuousClock.now - started
                }
            }
            var slowest = Duration.zero
            for try await duration in group { if let duration { slowest = max(slowest, duration) } }
            return slowest
        }
        #expect(slowest < .seconds(6), "a cat waited for a sleeper: \(slowest)")
    }

    @Test("a program that ignores SIGTERM is killed after the grace period; a timeout says so")
    func graceThenKill() async throws {
        let started = ContinuousClock.now
        let outcome = try await ChildProcess.run("/bin/sh", ["-c", "trap '' TERM; sleep 30"], timeout: 0.5, terminationGrace: 1)
        #expect(outcome.timedOut)
        #expect(outcome.signal == SIGKILL)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("a program that closes its output and runs on is still stopped at its timeout")
    func closedOutputStillTimesOut() async throws {
        let started = ContinuousClock.now
        let outcome = try await ChildProcess.run("/bin/sh", ["-c", "exec >&- 2>&-; sleep 30"], timeout: 0.5, terminationGrace: 1)
        #expect(outcome.timedOut)
        #expect(outcome.signal == SIGTERM)
        #expect(ContinuousClock.now - started < .seconds(10), "not left waiting for the exit of a program with no output open")
    }
}

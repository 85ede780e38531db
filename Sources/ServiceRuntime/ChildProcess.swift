import CProcessShims
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs other programs (helm, scripts). Each child leads a process group of its own, so a
/// timeout kills it and everything it started; it gets default signal dispositions, because a parent that
/// ignores SIGTERM for graceful shutdown would otherwise pass that on. Waiting and reading happen on a
/// dedicated queue, off the cooperative pool. Programs run to completion (`run`) are also bound to this
/// process with a parent-death signal: a worker killed outright does not leave a helm running on for a
/// claim that is gone. Long-running ones (`spawn`, the test stacks' servers) use posix_spawn.
public enum ChildProcess {
    public struct Outcome: Sendable {
        /// The exit code, or nil when a signal ended the process.
        public let exitCode: Int32?
        public let signal: Int32?
        public let stdout: [UInt8]
        public let stderr: [UInt8]
        public let timedOut: Bool

        public var succeeded: Bool { exitCode == 0 && !timedOut }
        public var standardOutput: String { String(decoding: stdout, as: UTF8.self) }
        public var standardError: String { String(decoding: stderr, as: UTF8.self) }
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public let executable: String
        public let code: Int32
        public var description: String { "cannot run \(executable): \(String(cString: strerror(code)))" }
    }

    /// Runs a program to completion, capturing its output. Past `timeout`, or when the calling task is
    /// cancelled, the whole process group gets SIGTERM (so a program such as helm can record what it
    /// was doing), then SIGKILL after `terminationGrace`; `timedOut` tells a timeout. `environment` nil
    /// inherits this process's environment.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        input: [UInt8]? = nil, timeout: Double? = nil, terminationGrace: Double = 3
    ) async throws -> Outcome {
        try Task.checkCancellation()
        let queue = BlockingQueue(label: "storefleet.child")
        let stop = LockedState(false)
        return try await withTaskCancellationHandler {
            try await queue.run { () throws -> Outcome in
                try runBlocking(executable, arguments, environment: environment, input: input, timeout: timeout,
                                grace: terminationGrace, stop: stop)
            }
        } onCancel: {
            stop.withLock { $0 = true }
        }
    }

    /// Starts a program that keeps running; its output goes to the given files (or /dev/null).
    static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        stdoutPath: String? = nil, stderrPath: String? = nil
    ) throws -> RunningProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let pid = try launch(executable, arguments, environment: environment, actions: &actions)
        return RunningProcess(pid: pid)
    }

    static func runBlocking(
        _ executable: String, _ arguments: [String], environment: [String: String]?, input: [UInt8]?, timeout: Double?,
        grace: Double = 3, stop: LockedState<Bool>? = nil
    ) throws -> Outcome {
        // A caller cancelled before the program started (a worker resumed after a freeze, its step
        // already told to stop) starts nothing, rather than starting it only to stop it.
        if stop?.withLock({ $0 }) == true { throw CancellationError() }
        var stdoutPipe: [Int32] = [0, 0]
        var stderrPipe: [Int32] = [0, 0]
        var stdinPipe: [Int32] = [0, 0]
        // Close-on-exec from the start (pipe2, not pipe then fcntl): a program another thread spawns
        // meanwhile must not inherit these ends. It did: holding the write end of this child's stdout
        // or stdin, it kept our reads from seeing end-of-file (or this child from seeing the end of its
        // input) until it exited itself, so concurrent helm runs finished only together, and a kubectl
        // reading `-f -` waited for an input that never ended. The child's own 0, 1 and 2 are made by
        // dup2, which clears the flag on them.
        guard storefleet_pipe_cloexec(&stdoutPipe) == 0 else { throw SpawnError(executable: executable, code: errno) }
        guard storefleet_pipe_cloexec(&stderrPipe) == 0 else {
            let code = errno
            stdoutPipe.forEach { close($0) }
            throw SpawnError(executable: executable, code: code)
        }
        guard storefleet_pipe_cloexec(&stdinPipe) == 0 else {
            let code = errno
            (stdoutPipe + stderrPipe).forEach { close($0) }
            throw SpawnError(executable: executable, code: code)
        }
        let pid: pid_t
        let watchdog: pid_t
        do {
            // Bound to this process: should the worker die outright (SIGKILL, OOM), the kernel kills the
            // program too, so that no helm runs on for a claim that is gone and races the next attempt.
            (pid, watchdog) = try launchBound(executable, arguments, environment: environment,
                                              stdin: stdinPipe[0], stdout: stdoutPipe[1], stderr: stderrPipe[1],
                                              hardLimit: timeout.map { $0 + grace + Self.watchdogSlack })
        } catch {
            for fd in stdinPipe + stdoutPipe + stderrPipe { close(fd) }
            throw error
        }
        // The program has ended (or is past saving) when this returns: its watchdog goes too.
        defer {
            if watchdog > 0 {
                kill(watchdog, SIGKILL)
                var ignored: Int32 = 0
                while waitpid(watchdog, &ignored, 0) < 0 && errno == EINTR {}
            }
        }
        close(stdinPipe[0])
        close(stdoutPipe[1])
        close(stderrPipe[1])
        if let input, !input.isEmpty {
            // Small inputs (values files) fit in the pipe buffer; larger ones are written before reading,
            // which is fine for the programs this project runs (they read all input first).
            input.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = write(stdinPipe[1], raw.baseAddress! + offset, raw.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
        close(stdinPipe[1])

        let deadline = timeout.map { monotonicNow() + $0 }
        var out: [UInt8] = []
        var err: [UInt8] = []
        var open: [Int32] = [stdoutPipe[0], stderrPipe[0]]
        var timedOut = false
        var killAt: Double?
        var buffer = [UInt8](repeating: 0, count: 65536)
        /// Past the deadline or on cancellation: SIGTERM to the group, then SIGKILL after the grace.
        /// Returns how long the next wait may be, in milliseconds, or nil when a signal was just sent.
        func enforce() -> Int32? {
            let now = monotonicNow()
            if let at = killAt {
                if now >= at {
                    kill(-pid, SIGKILL)
                    kill(pid, SIGKILL)
                    killAt = .infinity
                }
                return 250
            }
            let expired = deadline.map { now >= $0 } ?? false
            if expired || stop?.withLock({ $0 }) == true {
                timedOut = expired
                kill(-pid, SIGTERM)
                kill(pid, SIGTERM)
                killAt = now + grace
                return nil
            }
            return deadline.map { Int32(min(($0 - now) * 1000, 250).rounded(.up)) } ?? 250
        }
        while !open.isEmpty {
            // Short waits, so that a cancelled caller stops its program within a quarter second.
            guard let waitMs = enforce() else { continue }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), waitMs)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                if count > 0 {
                    if entry.fd == stdoutPipe[0] { out.append(contentsOf: buffer[0..<count]) } else { err.append(contentsOf: buffer[0..<count]) }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        for fd in open { close(fd) }
        // A program can close its output and run on (a daemon, or `exec >&-`): its exit is waited for
        // under the same deadline and cancellation as its output was.
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped < 0 {
                if errno == EINTR { continue }
                return Outcome(exitCode: nil, signal: nil, stdout: out, stderr: err, timedOut: timedOut)
            }
            guard let waitMs = enforce() else { continue }
            usleep(UInt32(min(waitMs, 20)) * 1000)
        }
        let signal = status & 0x7F
        return Outcome(exitCode: signal == 0 ? (status >> 8) & 0xFF : nil, signal: signal == 0 ? nil : signal,
                       stdout: out, stderr: err, timedOut: timedOut)
    }

    /// How long past its timeout and grace a program may outlive a frozen caller before the watchdog
    /// kills it: `timeout + grace + watchdogSlack` is a hard bound on the program's life.
    public static let watchdogSlack: Double = 5

    /// Starts a program that the kernel kills (SIGKILL) when the calling thread's process dies, in a
    /// process group of its own, with default signal dispositions. `runBlocking` waits for the program on
    /// the thread that started it, so the parent-death signal, which follows that thread, cannot fire
    /// while the worker lives.
    static func launchBound(
        _ executable: String, _ arguments: [String], environment: [String: String]?,
        stdin: Int32, stdout: Int32, stderr: Int32, hardLimit: Double?
    ) throws -> (pid: pid_t, watchdog: pid_t) {
        let environment = environment ?? ProcessInfo.processInfo.environment
        // Searched on this process's PATH, not the child's, as posix_spawnp and execvp do.
        guard let path = resolve(executable, path: ProcessInfo.processInfo.environment["PATH"]) else {
            throw SpawnError(executable: executable, code: ENOENT)
        }
        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        let env = environment.map { strdup("\($0.key)=\($0.value)") }
        defer { env.forEach { free($0) } }
        var argvPointers = argv + [nil]
        var envPointers = env + [nil]
        var watchdog: pid_t = 0
        let pid = storefleet_spawn_bound(path, &argvPointers, &envPointers, stdin, stdout, stderr, SIGKILL, hardLimit ?? 0, &watchdog)
        guard pid > 0 else { throw SpawnError(executable: executable, code: errno) }
        return (pid, watchdog)
    }

    /// The file a program name refers to: itself when it holds a slash, else the first executable of
    /// that name on `path`, as execvp searches (resolved before fork, where searching is not safe).
    static func resolve(_ executable: String, path: String?) -> String? {
        if executable.contains("/") { return executable }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + executable
            var info = stat()
            if access(candidate, X_OK) == 0, stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { return candidate }
        }
        return nil
    }

    static func launch(
        _ executable: String, _ arguments: [String], environment: [String: String]?,
        actions: inout posix_spawn_file_actions_t
    ) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") }
        defer { env.forEach { free($0) } }
        var argvPointers = argv + [nil]
        var envPointers = env + [nil]
        var pid: pid_t = 0
        let result: Int32
        if executable.contains("/") {
            result = posix_spawn(&pid, executable, &actions, &attributes, &argvPointers, &envPointers)
        } else {
            result = posix_spawnp(&pid, executable, &actions, &attributes, &argvPointers, &envPointers)
        }
        guard result == 0 else { throw SpawnError(executable: executable, code: result) }
        return pid
    }

    static func waitForExit(_ pid: pid_t) -> (exitCode: Int32?, signal: Int32?) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return (nil, nil) }
        }
        let signal = status & 0x7F
        if signal == 0 { return ((status >> 8) & 0xFF, nil) }
        return (nil, signal)
    }

    static func monotonicNow() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// A child started with `ChildProcess.spawn`.
final class RunningProcess: Sendable {
    public let pid: Int32

    init(pid: Int32) {
        self.pid = pid
    }

    /// Sends a signal to the process (not its group).
    public func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits for the process to end and returns its exit code, or nil when a signal ended it.
    public func wait() async -> (exitCode: Int32?, signal: Int32?) {
        let pid = self.pid
        return await BlockingQueue(label: "storefleet.child.wait").run { ChildProcess.waitForExit(pid) }
    }
}

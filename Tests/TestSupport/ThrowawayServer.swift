import Foundation
import ServiceRuntime

/// A Postgres or Redis server of a test's own, started with `scripts/services.sh` in a temporary
/// directory, for tests that restart or stop the server and must not disturb the others.
public final class ThrowawayServer: @unchecked Sendable {
    public enum Kind: String, Sendable { case postgres, redis }

    public let kind: Kind
    public let directory: URL
    public private(set) var url: String

    public static func start(_ kind: Kind) async throws -> ThrowawayServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("storefleet-\(kind.rawValue)"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = try await Self.services(kind, "start", directory)
        return ThrowawayServer(kind: kind, directory: directory, url: url)
    }

    private init(kind: Kind, directory: URL, url: String) {
        self.kind = kind
        self.directory = directory
        self.url = url
    }

    public func restart() async throws { try await Self.services(kind, "restart", directory) }
    public func stop() async throws { try await Self.services(kind, "stop", directory) }
    public func startAgain() async throws { url = try await Self.services(kind, "start", directory) }

    /// Stops the server and removes its files.
    public func destroy() async {
        _ = try? await Self.services(kind, "stop", directory)
        try? FileManager.default.removeItem(at: directory)
    }

    @discardableResult
    static func services(_ kind: Kind, _ action: String, _ directory: URL) async throws -> String {
        try await Shell.run(
            TestEnvironment.repositoryRoot.appendingPathComponent("scripts/services.sh").path,
            [kind.rawValue, action, directory.path]
        ).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

public enum Shell {
    public struct Failure: Error, CustomStringConvertible {
        public let command: String
        public let status: Int32?
        public let output: String
        public var description: String { "\(command) exited \(status.map(String.init) ?? "by a signal"): \(output)" }
    }

    /// Runs a program to completion and returns its standard output; a non-zero exit throws.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Double = 120) async throws -> String {
        let outcome = try await ChildProcess.run(executable, arguments, environment: environment, timeout: timeout)
        guard outcome.succeeded else {
            throw Failure(
                command: ([executable] + arguments).joined(separator: " "), status: outcome.exitCode,
                output: outcome.standardOutput + outcome.standardError
            )
        }
        return outcome.standardOutput
    }
}

/// Retries `body` until it succeeds or `seconds` pass; for "recovers eventually" assertions.
public func eventually<T>(within seconds: Double, _ body: () async throws -> T) async throws -> T {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while true {
        do {
            return try await body()
        } catch {
            if ContinuousClock.now > deadline { throw error }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// Runs `body` with a server of its own, destroyed afterwards whether `body` succeeds or throws.
public func withThrowawayServer<T>(_ kind: ThrowawayServer.Kind, _ body: (ThrowawayServer) async throws -> T) async throws -> T {
    let server = try await ThrowawayServer.start(kind)
    do {
        let value = try await body(server)
        await server.destroy()
        return value
    } catch {
        await server.destroy()
        throw error
    }
}

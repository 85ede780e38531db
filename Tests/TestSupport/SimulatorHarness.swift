import KubeClient
import ClusterSimulator
import Foundation
import Logging
import ServiceRuntime
import Testing

/// A simulator running in-process on a free port, spoken to over HTTPS with curl (verifying its CA), and
/// with kubectl when a test needs it.
public final class SimulatorHarness: @unchecked Sendable {
    public let simulator: ClusterSimulator
    public let directory: URL
    public let url: String
    private let task: Task<Void, any Error>

    public static func with<T>(timing: SimulatorTiming = SimulatorTiming(), _ body: (SimulatorHarness) async throws -> T) async throws -> T {
        let harness = try await SimulatorHarness(timing: timing)
        defer { harness.stop() }
        return try await body(harness)
    }

    private init(timing: SimulatorTiming) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("kube-sim"))
        var settings = SimulatorSettings(stateDirectory: directory)
        settings.timing = timing
        var logger = Logger(label: "kube-sim-test")
        logger.logLevel = .error
        let simulator = ClusterSimulator(settings: settings, logger: logger)
        self.simulator = simulator
        task = Task { try await simulator.run() }
        url = try await eventually(within: 30) { () throws -> String in
            guard let url = simulator.url, FileManager.default.fileExists(atPath: "\(simulator.settings.stateDirectory.path)/kubeconfig") else {
                throw CancellationError()
            }
            return url
        }
    }

    public func stop() {
        task.cancel()
        try? FileManager.default.removeItem(at: directory)
    }

    public struct Reply {
        public let status: Int
        public let body: JSON
        public let headers: String
        public let curlExit: Int32?
    }

    /// One HTTPS request. `auth` nil sends no credentials.
    public func request(_ method: String, _ path: String, body: JSON? = nil, contentType: String = "application/json",
                 auth: String? = "token", extra: [String] = []) async throws -> Reply {
        let headersFile = directory.appendingPathComponent(TestEnvironment.uniqueName("headers")).path
        var arguments = ["-sS", "--max-time", "20", "--cacert", "\(directory.path)/ca.crt", "-X", method, "-D", headersFile,
                         "-o", "-", "-w", "\n%{http_code}"]
        switch auth {
        case "token"?: arguments += ["-H", "Authorization: Bearer \(simulator.token)"]
        case "client-cert"?: arguments += ["--cert", "\(directory.path)/client.crt", "--key", "\(directory.path)/client.key"]
        case let other?: arguments += ["-H", "Authorization: Bearer \(other)"]
        case nil: break
        }
        if let body {
            arguments += ["-H", "Content-Type: \(contentType)", "--data-binary", String(decoding: body.serialized(), as: UTF8.self)]
        }
        arguments += extra + [url + path]
        let outcome = try await ChildProcess.run("curl", arguments, timeout: 30)
        let text = outcome.standardOutput
        let headers = (try? String(contentsOfFile: headersFile, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: headersFile)
        guard let newline = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: newline)...]) else {
            return Reply(status: 0, body: .null, headers: headers, curlExit: outcome.exitCode)
        }
        let bodyText = String(text[..<newline])
        let json = (try? JSON(parsing: Data(bodyText.utf8))) ?? .string(bodyText)
        return Reply(status: status, body: json, headers: headers, curlExit: outcome.exitCode)
    }

    /// kubectl (installed by scripts/install-tools.sh) with one of the simulator's kubeconfigs.
    public func kubectl(_ arguments: [String], kubeconfig: String = "kubeconfig", input: String? = nil) async throws -> ChildProcess.Outcome {
        let candidates = [TestEnvironment.repositoryRoot.appendingPathComponent(".tools/bin/kubectl").path]
            + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/kubectl" }
        guard let kubectl = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestEnvironment.Missing(variable: "kubectl (run scripts/install-tools.sh)")
        }
        var environment = ProcessInfo.processInfo.environment
        environment["KUBECONFIG"] = "\(directory.path)/\(kubeconfig)"
        environment["HOME"] = directory.path
        return try await ChildProcess.run(kubectl, arguments, environment: environment, input: input.map { Array($0.utf8) }, timeout: 60)
    }
}

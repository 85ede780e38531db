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
    private let evaluator = LockedState<Process?>(nil)
    private let lifeline = LockedState<Pipe?>(nil)

    public static func with<T>(timing: SimulatorTiming = SimulatorTiming(), _ body: (SimulatorHarness) async throws -> T) async throws -> T {
        let harness = try await SimulatorHarness(timing: timing)
        defer { harness.stop() }
        return try await body(harness)
    }

    private init(timing: SimulatorTiming) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("kube-sim"))
        var settings = SimulatorSettings(stateDirectory: directory)
        settings.timing = timing
        settings.schemaFile = TestEnvironment.kubernetesSchemas
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
        evaluator.withLock { process in
            // SIGKILL: the test process blocks SIGTERM in its threads, and a child inherits the mask.
            if let process, process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
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

    /// The platform's identities as `charts/platform` renders them (release `sf` in namespace
    /// `storefleet`): its ServiceAccounts, ClusterRoles, bindings and admission policy applied with the
    /// admin credentials, and a token for each service account in a kubeconfig of its own
    /// (`worker.kubeconfig`, `gateway.kubeconfig`). Tests then run the worker and the gateway as the
    /// chart would, never with the admin token.
    public struct PlatformIdentities: Sendable {
        /// `STORE_ROLE_BINDINGS` as the chart sets it on the worker.
        public let storeRoleBindings: String
        public let workerKubeconfig: String
        public let gatewayKubeconfig: String
    }

    public func platformIdentities() async throws -> PlatformIdentities {
        let chart = TestEnvironment.repositoryRoot.appendingPathComponent("charts/platform").path
        func helm(_ template: String) async throws -> String {
            let candidates = [TestEnvironment.repositoryRoot.appendingPathComponent(".tools/bin/helm").path]
                + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/helm" }
            guard let helm = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw TestEnvironment.Missing(variable: "helm (run scripts/install-tools.sh)")
            }
            var environment = ProcessInfo.processInfo.environment
            environment["HOME"] = directory.path
            let out = try await ChildProcess.run(helm, ["template", "sf", chart, "-n", "storefleet", "--set", "host=storefleet.example.com",
                                                        "--set", "stores.domain=stores.example.com", "--show-only", template],
                                                 environment: environment, timeout: 60)
            guard out.exitCode == 0 else { throw Failure("helm template failed: \(out.standardError)") }
            return out.standardOutput
        }
        // The chart's admission policy is enforced too: kube-sim sends it, with each write, to cel-python.
        simulator.setAdmissionEvaluator(try await startAdmissionEvaluator())
        let rbac = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: storefleet\n---\n" + (try await helm("templates/rbac.yaml"))
        // Every namespaced object names its namespace (the service accounts theirs, the API server
        // endpoints Role default), so no -n: it would refuse the ones in default.
        let applied = try await kubectl(["apply", "-f", "-"], input: rbac)
        guard applied.exitCode == 0 else { throw Failure("kubectl apply of the platform RBAC failed: \(applied.standardError)") }
        let worker = try await helm("templates/worker.yaml")
        guard let range = worker.range(of: #"name: STORE_ROLE_BINDINGS\s+value: "([^"]+)""#, options: .regularExpression) else {
            throw Failure("the worker Deployment sets no STORE_ROLE_BINDINGS")
        }
        let bindings = String(worker[range].split(separator: "\"")[1])
        let admin = try String(contentsOf: directory.appendingPathComponent("kubeconfig"), encoding: .utf8)
        var files: [String] = []
        for account in ["sf-worker", "sf-gateway"] {
            let token = try await kubectl(["create", "token", account, "-n", "storefleet"])
            guard token.exitCode == 0 else { throw Failure("kubectl create token \(account) failed: \(token.standardError)") }
            let file = directory.appendingPathComponent("\(account.dropFirst(3)).kubeconfig")
            try admin.replacingOccurrences(of: simulator.token, with: token.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))
                .write(to: file, atomically: true, encoding: .utf8)
            _ = chmod(file.path, 0o600)
            files.append(file.path)
        }
        return PlatformIdentities(storeRoleBindings: bindings, workerKubeconfig: files[0], gatewayKubeconfig: files[1])
    }

    /// `scripts/lib/vap.py serve 0` with the tools' Python (cel-python, from scripts/install-tools.sh),
    /// stopped with the harness; its URL.
    func startAdmissionEvaluator() async throws -> String {
        let root = TestEnvironment.repositoryRoot
        let venv = root.appendingPathComponent(".tools/venv/bin/python").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/python3")
        process.arguments = [root.appendingPathComponent("scripts/lib/vap.py").path, "serve", "0", "--exit-with-stdin"]
        let output = Pipe()
        process.standardOutput = output
        // It exits when its standard input closes, that is when this process is gone, however it ended.
        let input = Pipe()
        process.standardInput = input
        try process.run()
        lifeline.withLock { $0 = input }
        evaluator.withLock { $0 = process }
        // The first line is the port it listens on, read on a thread of its own: a blocking read on the
        // cooperative pool (two threads here) would stall every other test while Python starts.
        let reader = output.fileHandleForReading
        let line = await withCheckedContinuation { (continuation: CheckedContinuation<Data, Never>) in
            Thread.detachNewThread {
                var line = Data()
                while let byte = try? reader.read(upToCount: 1), let first = byte.first, first != 0x0A { line.append(first) }
                continuation.resume(returning: line)
            }
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            throw Failure("the admission evaluator did not start (is cel-python installed? run scripts/install-tools.sh)")
        }
        return "http://127.0.0.1:\(port)"
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }
}


import Foundation
@testable import ServiceRuntime
import Testing
import TestSupport

/// The executables as an operator meets them: configuration errors, start-up, readiness and SIGTERM.
@Suite("Executables start, migrate, report ready and stop cleanly")
struct StartupTests {
    static let programs = ["storefleet-gateway", "storefleet-worker"]

    @Test("a malformed DATABASE_URL stops the process with one line naming the variable", arguments: programs)
    func malformedURL(_ program: String) async throws {
        let result = try await run(program, environment: ["DATABASE_URL": "mysql://nowhere", "REDIS_URL": try TestEnvironment.redisURL()])
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one line, got: \(result.stderr)")
        #expect(lines.first?.contains("DATABASE_URL") == true)
        #expect(lines.first?.contains("configuration error") == true)
    }

    @Test("a missing REDIS_URL stops the process with one line naming the variable", arguments: programs)
    func missingRedis(_ program: String) async throws {
        let result = try await run(program, environment: ["DATABASE_URL": try TestEnvironment.databaseURL()])
        #expect(result.status == 2)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("REDIS_URL: is required"))
    }

    static var helmSim: String { TestEnvironment.productsDirectory.appendingPathComponent("helm-sim").path }
    static var charts: String { TestEnvironment.repositoryRoot.appendingPathComponent("charts").path }

    @Test("a worker whose CHARTS_DIR or HELM_BIN cannot serve a release refuses to start, with one line naming the variable",
          arguments: [
            ("CHARTS_DIR", ["CHARTS_DIR": "/nonexistent/charts"], "has no woocommerce/Chart.yaml"),
            ("HELM_BIN", ["HELM_BIN": "/nonexistent/helm"], "No such file"),
            ("HELM_BIN", ["HELM_BIN": "/bin/false"], "version` failed"),
            ("HELM_BIN", ["HELM_BIN": "/bin/echo"], "printed no helm version"),
          ])
    func badTools(_ variable: String, _ bad: [String: String], _ says: String) async throws {
        var environment = ["DATABASE_URL": try TestEnvironment.databaseURL(), "REDIS_URL": try TestEnvironment.redisURL(),
                           "KUBECONFIG": Self.kubeconfig, "HELM_BIN": Self.helmSim, "CHARTS_DIR": Self.charts]
        environment.merge(bad) { $1 }
        let result = try await run("storefleet-worker", environment: environment)
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one line, got: \(result.stderr)")
        #expect(lines.first?.contains("\(variable):") == true && lines.first?.contains(says) == true, "\(result.stderr)")
    }

    @Test("a wrong password fails at once with one line, without retrying for the start-up timeout", arguments: programs)
    func wrongPassword(_ program: String) async throws {
        var components = try #require(URLComponents(string: try TestEnvironment.databaseURL()))
        components.password = "not-the-password"
        let started = Date()
        let result = try await run(program, environment: [
            "DATABASE_URL": components.string!, "REDIS_URL": try TestEnvironment.redisURL(), "STARTUP_TIMEOUT": "60s",
        ])
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1, "one line, got: \(result.stderr)")
        #expect(result.stderr.contains("authentication failed"))
        #expect(!result.stderr.contains("not-the-password"))
        #expect(Date().timeIntervalSince(started) < 30)
    }

    @Test("with good settings the process migrates, logs that it is ready, and exits 0 on SIGTERM", arguments: programs)
    func startsAndStops(_ program: String) async throws {
        try await withTestDatabase { database in
            let logFile = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("log")).path
            defer { try? FileManager.default.removeItem(atPath: logFile) }
            let process = try ChildProcess.spawn(
                TestEnvironment.productsDirectory.appendingPathComponent(program).path, [],
                environment: [
                    "DATABASE_URL": database.url, "REDIS_URL": try TestEnvironment.redisURL(),
                    "GATEWAY_PORT": "0", "WORKER_HTTP_PORT": "0", "LOG_FORMAT": "json", "PATH": "/usr/bin:/bin",
                    "KUBECONFIG": Self.kubeconfig, "HELM_BIN": Self.helmSim, "CHARTS_DIR": Self.charts,
                ],
                stderrPath: logFile
            )
            func lines() -> [String] {
                ((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            }
            let ready = try await eventually(within: 60) { () throws -> String in
                guard let line = lines().first(where: { $0.contains("ready\"") }) else { throw NotYet() }
                return line
            }
            #expect(ready.hasPrefix("{"), "JSON log lines: \(ready)")
            // The HTTP port answers: the gateway's health, the worker's health and metrics.
            let portLine = program == "storefleet-worker" ? "worker HTTP port open" : "gateway ready"
            let address = try #require(try await eventually(within: 20) { () throws -> String in
                guard let line = lines().first(where: { $0.contains(portLine) }) else { throw NotYet() }
                return line
            })
            let port = try #require(address.firstMatch(of: /127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) })
            let health = try await ChildProcess.run("curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(port)/healthz"], timeout: 10)
            #expect(health.standardOutput.hasPrefix("ok"))
            if program == "storefleet-worker" {
                let metrics = try await ChildProcess.run("curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(port)/metrics"], timeout: 10)
                #expect(metrics.standardOutput.contains("storefleet_worker_running_jobs 0"))
                #expect(metrics.standardOutput.contains("storefleet_worker_helm_processes 0"))
            }
            #expect(lines().contains { $0.contains("applied migration") })
            process.signal(SIGTERM)
            let status = await process.wait()
            #expect(status.exitCode == 0, "exit status \(status)")
            #expect(lines().contains { $0.contains("stopped") })
        }
    }

    struct NotYet: Error {}

    /// A kubeconfig the worker can load at start-up; nothing in these tests talks to the cluster.
    static let kubeconfig: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("storefleet-startup-kubeconfig").path
        let text = """
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
            users: [{name: u, user: {token: t}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            current-context: x
            """
        try? text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    struct Result {
        let status: Int32?
        let stderr: String
    }

    func run(_ program: String, environment: [String: String]) async throws -> Result {
        let outcome = try await ChildProcess.run(
            TestEnvironment.productsDirectory.appendingPathComponent(program).path, [],
            environment: environment.merging([
                "PATH": "/usr/bin:/bin", "STARTUP_TIMEOUT": "5s", "KUBECONFIG": Self.kubeconfig, "HELM_BIN": Self.helmSim, "CHARTS_DIR": Self.charts,
            ]) { mine, _ in mine },
            timeout: 60
        )
        return Result(status: outcome.exitCode, stderr: outcome.standardError)
    }
}

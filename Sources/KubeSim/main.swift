import ClusterSimulator
import Foundation
import Logging
import ServiceRuntime

// kube-sim: a Kubernetes API stand-in for tests and for trying the platform without a cluster.
//
//   kube-sim [--state-dir DIR] [--port N] [--token T] [--ready-delay S] [--job-delay S]
//            [--namespace-delete-delay S] [--pod-termination-delay S] [--faults FILE] [--admission-evaluator URL]
//            [--schemas FILE]
//
// --admission-evaluator: where ValidatingAdmissionPolicies are evaluated (scripts/lib/vap.py serve).
// --schemas: the Kubernetes OpenAPI definitions fields are validated against (FieldSchemas.swift).
//
// Writes DIR/kubeconfig (token, embedded CA), DIR/kubeconfig-ca-file and DIR/kubeconfig-client-cert,
// and DIR/url, then prints "kube-sim ready <url> <kubeconfig>" on standard output.
await ProcessEntry.run("kube-sim") {
    var arguments = Array(CommandLine.arguments.dropFirst())
    func option(_ name: String) -> String? {
        guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
        defer { arguments.removeSubrange(index...index + 1) }
        return arguments[index + 1]
    }
    func seconds(_ name: String) throws -> Double? {
        guard let text = option(name) else { return nil }
        guard let value = Double(text), value >= 0 else { throw ConfigurationError(variable: name, problem: "must be a number of seconds") }
        return value
    }
    let reader = ConfigurationReader()
    try LoggingSettings(from: reader).bootstrap()
    let directory = URL(fileURLWithPath: option("--state-dir") ?? ".data/kube-sim")
    var settings = SimulatorSettings(stateDirectory: directory)
    if let port = option("--port") {
        guard let value = Int(port), (0...65535).contains(value) else { throw ConfigurationError(variable: "--port", problem: "must be a port number") }
        settings.port = value
    }
    settings.token = option("--token")
    settings.admissionEvaluator = option("--admission-evaluator")
    if let value = try seconds("--ready-delay") { settings.timing.readyDelay = value }
    if let value = try seconds("--job-delay") { settings.timing.jobDelay = value }
    if let value = try seconds("--namespace-delete-delay") { settings.timing.namespaceDeletionDelay = value }
    if let value = try seconds("--pod-termination-delay") { settings.timing.podTerminationDelay = value }
    if let file = option("--schemas") {
        guard FileManager.default.fileExists(atPath: file) else { throw ConfigurationError(variable: "--schemas", problem: "\(file) does not exist") }
        settings.schemaFile = URL(fileURLWithPath: file)
    }
    if let file = option("--faults") {
        do {
            settings.faults = try JSONDecoder().decode(FaultSettings.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        } catch {
            throw ConfigurationError(variable: "--faults", problem: "cannot read fault settings from \(file): \(error)")
        }
    }
    guard arguments.isEmpty else { throw ConfigurationError(variable: arguments[0], problem: "is not an option kube-sim knows") }

    let simulator = ClusterSimulator(settings: settings, logger: Logger(label: "kube-sim"))
    let signals = SignalWatcher(signals: [SIGTERM, SIGINT]) { exit(0) }
    defer { signals.cancel() }
    try await simulator.run { kubeconfig in
        let url = simulator.url ?? ""
        try? url.write(to: directory.appendingPathComponent("url"), atomically: true, encoding: .utf8)
        FileHandle.standardOutput.write(Data("kube-sim ready \(url) \(kubeconfig)\n".utf8))
    }
}

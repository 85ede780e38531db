import Foundation
import Jobs
import KubeClient
import ServiceRuntime
import Tracing

/// Runs the helm binary (`HELM_BIN`: the real helm, or the helm-sim stand-in) with a time limit that kills it
/// and its children when it overruns. helm's standard error becomes the failure message.
public struct HelmRunner: Sendable {
    public let binary: String
    public let kubeconfig: String?
    /// `KUBE_CONTEXT`, handed to helm as `--kube-context`: without it helm would use the file's current
    /// context while the worker's own client uses this one, and releases would go to another cluster.
    public var kubeContext: String? = nil

    /// helm processes running in this worker now, for `/metrics`.
    public static var running: Int { active.withLock { $0 } }
    private static let active = LockedState(0)

    /// helm runs by command and outcome, for `/metrics`.
    private static let durations = LockedState([String: Histogram]())
    static let bounds: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600]
    /// The helm commands the worker runs; anything else is counted as "other" (bounded labels).
    static let commands: Set<String> = ["upgrade", "install", "uninstall", "rollback", "status", "history", "get", "list", "version"]

    func run(_ arguments: [String], timeout: Double) async throws -> ChildProcess.Outcome {
        Self.active.withLock { $0 += 1 }
        defer { Self.active.withLock { $0 -= 1 } }
        let started = ContinuousClock.now
        // A span per helm run: its command and release, never its values (they hold generated secrets).
        let span: (any Span)? = Telemetry.enabled ? startSpan("helm \(arguments.first ?? "")", ofKind: .client) : nil
        span?.attributes["helm.command"] = arguments.first
        // The release is the first word after the command that is not a flag (`upgrade --install NAME CHART`).
        if let release = arguments.dropFirst().first(where: { !$0.hasPrefix("-") }) { span?.attributes["helm.release"] = release }
        if let index = arguments.firstIndex(of: "--namespace") ?? arguments.firstIndex(of: "-n"), index + 1 < arguments.count {
            span?.attributes["k8s.namespace.name"] = arguments[index + 1]
        }
        defer { span?.end() }
        let outcome: ChildProcess.Outcome
        do {
            outcome = try await ChildProcess.run(binary, arguments + connection, environment: Self.environment, timeout: timeout)
        } catch {
            Self.observe(arguments.first, outcome: "error", seconds: (ContinuousClock.now - started).inSeconds)
            span?.recordError(error)
            span?.setStatus(SpanStatus(code: .error))
            throw error
        }
        let result = outcome.timedOut ? "timeout" : outcome.succeeded ? "succeeded" : "failed"
        Self.observe(arguments.first, outcome: result, seconds: (ContinuousClock.now - started).inSeconds)
        span?.attributes["helm.outcome"] = result
        if !outcome.succeeded { span?.setStatus(SpanStatus(code: .error, message: result)) }
        if outcome.timedOut {
            throw StepFailure.retryable("helm \(arguments.first ?? "") did not finish within \(formatSeconds(timeout)) and was stopped", cause: "helm-timeout")
        }
        return outcome
    }

    private static func observe(_ command: String?, outcome: String, seconds: Double) {
        let name = command.flatMap { commands.contains($0) ? $0 : nil } ?? "other"
        durations.withLock { $0["command=\"\(name)\",outcome=\"\(outcome)\"", default: Histogram(bounds: bounds)].observe(seconds) }
    }

    /// `storefleet_helm_duration_seconds`: every helm run of this worker.
    public static func renderMetrics() -> String {
        var out = "# HELP storefleet_helm_duration_seconds helm runs of this worker, by command and outcome (succeeded, failed, timeout, error: could not start).\n"
        out += "# TYPE storefleet_helm_duration_seconds histogram\n"
        for (labels, histogram) in durations.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            out += histogram.render("storefleet_helm_duration_seconds", labels: labels)
        }
        return out
    }

    /// The cluster helm talks to: the worker's own kubeconfig and context.
    var connection: [String] {
        (kubeconfig.map { ["--kubeconfig", $0] } ?? []) + (kubeContext.map { ["--kube-context", $0] } ?? [])
    }

    /// What helm gets of the worker's environment: what helm itself reads (its own HELM_* settings,
    /// the in-cluster API address, proxies, locale, certificates), never the worker's secrets such as
    /// DATABASE_URL or REDIS_URL with their passwords, which a plugin or post-renderer could read.
    static let environment = childEnvironment(ProcessInfo.processInfo.environment)

    static func childEnvironment(_ parent: [String: String]) -> [String: String] {
        let names: Set<String> = [
            "PATH", "HOME", "TMPDIR", "USER", "LANG", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT",
            "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR",
        ]
        let prefixes = ["HELM_", "XDG_", "LC_"]
        // helm keeps releases in Secrets, where HelmStorage reads them; another driver would hide them.
        return parent.filter { name, _ in (names.contains(name) || prefixes.contains { name.hasPrefix($0) }) && name != "HELM_DRIVER" }
    }

    /// Whether a failed `helm uninstall` still removed the release: it was not there, or helm purged its
    /// records but could not delete some objects ("uninstallation completed with N error(s)"); the
    /// install that follows adopts what is left, and a namespace delete removes it.
    static func releaseGone(_ outcome: ChildProcess.Outcome) -> Bool {
        let text = message(outcome)
        return text.contains("not found") || text.contains("uninstallation completed with")
    }

    static func message(_ outcome: ChildProcess.Outcome) -> String {
        let text = outcome.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        if !text.isEmpty { return text }
        if let signal = outcome.signal {
            // Said plainly: a SIGKILL nobody here sent is most often the kernel's out-of-memory killer.
            return "helm was ended by signal \(signal)" + (signal == SIGKILL ? " (SIGKILL: out of memory, or killed from outside)" : "")
        }
        return "exit code \(outcome.exitCode.map(String.init) ?? "?")"
    }
}

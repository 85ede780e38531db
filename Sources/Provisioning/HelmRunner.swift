import Foundation
import Jobs
import KubeClient
import ServiceRuntime

/// Runs the helm binary (`HELM_BIN`: the real helm, or the helm-sim stand-in) with a time limit that kills it
/// and its children when it overruns. helm's standard error becomes the failure message.
public struct HelmRunner: Sendable {
    public let binary: String
    public let kubeconfig: String?

    /// helm processes running in this worker now, for `/metrics`.
    public static var running: Int { active.withLock { $0 } }
    private static let active = LockedState(0)

    func run(_ arguments: [String], timeout: Double) async throws -> ChildProcess.Outcome {
        Self.active.withLock { $0 += 1 }
        defer { Self.active.withLock { $0 -= 1 } }
        let outcome = try await ChildProcess.run(binary, arguments + (kubeconfig.map { ["--kubeconfig", $0] } ?? []), timeout: timeout)
        if outcome.timedOut {
            throw StepFailure.retryable("helm \(arguments.first ?? "") did not finish within \(formatSeconds(timeout)) and was stopped")
        }
        return outcome
    }

    static func message(_ outcome: ChildProcess.Outcome) -> String {
        let text = outcome.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "exit code \(outcome.exitCode.map(String.init) ?? "?")" : text
    }
}

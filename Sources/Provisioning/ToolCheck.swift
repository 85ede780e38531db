import Foundation
import ServiceRuntime

extension ProvisioningSettings {
    /// The engines whose charts the worker installs (`charts/<engine>`).
    static let engines = ["woocommerce", "medusa"]

    /// Checks, before the worker connects to anything, that `CHARTS_DIR` holds the store charts and that
    /// `HELM_BIN` runs and is helm 4: otherwise every release would fail and be retried (`Error: repo
    /// charts not found`) instead of the worker refusing to start with one line naming the variable.
    public func checkTools(timeout: Double = 20) async throws(ConfigurationError) {
        let directory = URL(fileURLWithPath: chartsDirectory).standardizedFileURL.path
        for engine in Self.engines where !FileManager.default.fileExists(atPath: "\(directory)/\(engine)/Chart.yaml") {
            throw ConfigurationError(
                variable: "CHARTS_DIR",
                problem: "\(directory) has no \(engine)/Chart.yaml; point it at the repository's charts directory (the platform image has them at /opt/storefleet/charts)")
        }
        let outcome: ChildProcess.Outcome
        do {
            outcome = try await ChildProcess.run(helmBinary, ["version", "--short"], timeout: timeout)
        } catch {
            throw ConfigurationError(variable: "HELM_BIN", problem: "\(error)")
        }
        let text = (outcome.standardOutput + outcome.standardError).trimmingCharacters(in: .whitespacesAndNewlines)
        guard outcome.succeeded else {
            throw ConfigurationError(variable: "HELM_BIN", problem: "`\(helmBinary) version` failed\(outcome.timedOut ? " (timed out)" : ""): \(text.prefix(200))")
        }
        guard let major = Self.helmMajorVersion(text) else {
            throw ConfigurationError(variable: "HELM_BIN", problem: "`\(helmBinary) version` printed no helm version: \(text.prefix(200))")
        }
        guard major == 4 else {
            throw ConfigurationError(variable: "HELM_BIN", problem: "\(helmBinary) is helm \(major) (\(text.prefix(80))); Storefleet needs helm 4")
        }
    }

    /// The major version in `helm version` output ("v4.1.4+g05fa379", or the long form's Version:"v4.1.4").
    static func helmMajorVersion(_ text: String) -> Int? {
        guard let range = text.range(of: #"v[0-9]+\."#, options: .regularExpression) else { return nil }
        return Int(text[range].dropFirst().dropLast())
    }
}

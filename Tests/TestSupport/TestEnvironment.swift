import Foundation

/// Where the integration tests find their servers. `scripts/test.sh` starts a throwaway Postgres and
/// Redis and exports their URLs; running `swift test` without them fails with a message saying so.
public enum TestEnvironment {
    public struct Missing: Error, CustomStringConvertible {
        public let variable: String
        public init(variable: String) { self.variable = variable }
        public var description: String {
            "\(variable) is not set: run the tests through scripts/test.sh, which starts throwaway servers"
        }
    }

    public static func value(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { throw Missing(variable: name) }
        return value
    }

    public static func databaseURL() throws -> String { try value("DATABASE_URL") }
    public static func redisURL() throws -> String { try value("REDIS_URL") }

    /// The repository's root, found from this file's location.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Where the built executables are: next to the test bundle.
    public static var productsDirectory: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.pathComponents.count > 1 {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("storefleet-gateway").path) { return url }
        }
        return repositoryRoot.appendingPathComponent(".build/debug")
    }

    /// A unique lowercase name for tables, keys and databases that tests create.
    /// The Kubernetes OpenAPI definitions of the version kube-sim reports, as kubernetes-validate ships
    /// them in the tools' venv (scripts/install-tools.sh); nil when the tools are not installed.
    public static var kubernetesSchemas: URL? {
        let venv = repositoryRoot.appendingPathComponent(".tools/venv/lib")
        let pythons = (try? FileManager.default.contentsOfDirectory(atPath: venv.path)) ?? []
        return pythons.sorted().map {
            venv.appendingPathComponent("\($0)/site-packages/kubernetes_validate/kubernetes-json-schema/v1.35.0-local/_definitions.json")
        }.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    public static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12))"
    }
}

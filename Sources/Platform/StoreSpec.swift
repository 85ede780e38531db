import Foundation

/// What a store runs: its plan, its chart version and its application version. `nil` versions mean
/// the worker's own chart for the engine and that chart's own application version. A revision is a
/// spec asked for; the store's live spec is the last revision applied.
public struct StoreSpec: Codable, Sendable, Equatable {
    public var plan: String
    public var chartVersion: String?
    public var appVersion: String?

    public init(plan: String, chartVersion: String? = nil, appVersion: String? = nil) {
        self.plan = plan
        self.chartVersion = chartVersion
        self.appVersion = appVersion
    }

    /// A chart version as helm writes them: SemVer 2 (`1.2.3`, `1.2.3-rc.1`).
    public static func chartVersionProblem(_ text: String) -> String? {
        let core = text.split(separator: "+", maxSplits: 1).first.map(String.init) ?? text
        let main = core.split(separator: "-", maxSplits: 1).first.map(String.init) ?? core
        let numbers = main.split(separator: ".", omittingEmptySubsequences: false)
        guard text.count <= 64, numbers.count == 3, numbers.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              text.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-.+".unicodeScalars.contains($0)) })
        else { return "must be a chart version such as 0.2.0 or 1.0.0-rc.1" }
        return nil
    }

    /// An image tag (what the application version becomes): 1 to 128 of letters, digits, `_`, `.`
    /// and `-`, not starting with `.` or `-`.
    public static func appVersionProblem(_ text: String) -> String? {
        guard (1...128).contains(text.count), let first = text.unicodeScalars.first, first != ".", first != "-",
              text.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.-".unicodeScalars.contains($0)) })
        else { return "must be an image tag: 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'" }
        return nil
    }
}

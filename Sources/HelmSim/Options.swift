/// A failure as helm reports it: `Error: <message>` on standard error and a non-zero exit.
struct HelmFailure: Error {
    let message: String
    var exitCode: Int32 = 1

    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
}

/// The flags of the helm subcommands the worker and operators use; anything else is refused, as helm
/// refuses an unknown flag, so a new flag in the worker cannot be silently ignored here.
struct Options {
    var positional: [String] = []
    var namespace = "default"
    var valueFiles: [String] = []
    /// `--set`/`--set-string` flags and their values, passed on to `helm template` as given.
    var sets: [String] = []
    var kubeconfig: String?
    var context: String?
    var output = "table"
    var allNamespaces = false
    var max = 256

    static let ignoredSwitches: Set<String> = [
        "--install", "--wait", "--atomic", "--wait-for-jobs", "--cleanup-on-fail", "--reset-values", "--reuse-values",
        "--debug", "--force", "--no-hooks", "--keep-history", "--ignore-not-found",
    ]

    init(_ arguments: [String]) throws(HelmFailure) {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            var key = argument
            var value: String? = index + 1 < arguments.count ? arguments[index + 1] : nil
            var step = 2
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                key = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
                step = 1
            }
            func required() throws(HelmFailure) -> String {
                guard let value else { throw HelmFailure("flag needs an argument: \(key)") }
                return value
            }
            switch key {
            case "-n", "--namespace": namespace = try required()
            case "-f", "--values": valueFiles.append(try required())
            case "--set", "--set-string": sets += [key, try required()]
            case "--kubeconfig": kubeconfig = try required()
            case "--kube-context": context = try required()
            case "-o", "--output": output = try required()
            case "--timeout", "--description": _ = try required()
            case "--max":
                guard let number = Int(try required()) else { throw HelmFailure("invalid argument for --max") }
                max = number
            case "-A", "--all-namespaces":
                allNamespaces = true
                step = 1
            case _ where Self.ignoredSwitches.contains(key):
                step = 1
            case "--create-namespace":
                throw HelmFailure("helm-sim: --create-namespace is not supported (the worker creates namespaces itself)")
            case _ where argument.hasPrefix("-"):
                throw HelmFailure("unknown flag: \(argument)")
            default:
                positional.append(argument)
                step = 1
            }
            index += step
        }
    }
}

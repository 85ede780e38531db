import ArgumentParser
import Foundation
import KubeClient

extension OutputFormat: ExpressibleByArgument {}

/// What a command runs with: the environment, the console and the HTTP transport. Tests swap it.
public struct Runtime: @unchecked Sendable {
    public var environment: [String: String]
    public var console: Console
    public var transport: any HTTPTransport
    public var readLine: (_ prompt: String, _ secret: Bool) -> String?

    public static func standard() -> Runtime {
        let environment = ProcessInfo.processInfo.environment
        return Runtime(environment: environment, console: .standard(environment: environment), transport: CurlTransport(),
                       readLine: Prompt.read)
    }

    nonisolated(unsafe) public static var current = Runtime.standard()
}

/// Options every command that talks to the API takes.
public struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The gateway's URL (default: STOREFLEET_SERVER, else the context's).", valueName: "url"))
    public var server: String?

    @Option(name: .long, help: ArgumentHelp("The context to use (default: the current one).", valueName: "name"))
    public var context: String?

    @Option(name: [.short, .long], help: "Output format: table, json, yaml or name.")
    public var output: OutputFormat = .table

    @Flag(name: .long, help: "Show every HTTP exchange on standard error (the token redacted).")
    public var verbose = false

    public init() {}

    func configPath() -> String { ConfigFile.path(environment: Runtime.current.environment) }

    func loadConfig() throws(CLIError) -> ConfigFile {
        let console = Runtime.current.console
        return try ConfigFile.load(from: configPath()) { console.error($0) }
    }

    func target() throws(CLIError) -> Target {
        try Target.resolve(config: loadConfig(), contextFlag: context, serverFlag: server, environment: Runtime.current.environment)
    }

    /// A client for the resolved target; a command that needs a token fails early without one.
    func client(requireToken: Bool = true) throws(CLIError) -> APIClient {
        let target = try target()
        if requireToken && target.token == nil {
            throw CLIError(.unauthorized, "no token: run storefleet login --server \(target.server), or set STOREFLEET_TOKEN")
        }
        let console = Runtime.current.console
        if let warning = Self.cleartextWarning(target) { console.error(warning) }
        return APIClient(target: target, transport: Runtime.current.transport, verbose: verbose) { console.error($0) }
    }

    /// A bearer token in plain HTTP to another machine can be read on the way; loopback (a local
    /// `scripts/run.sh`, a port-forward) is fine.
    static func cleartextWarning(_ target: Target) -> String? {
        guard target.token != nil, let url = URL(string: target.server), url.scheme?.lowercased() == "http",
              let host = url.host?.lowercased() else { return nil }
        let loopback = host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
        return loopback ? nil : "warning: sending the API token to \(target.server) over plain http; use https outside this machine"
    }

    var console: Console { Runtime.current.console }

    func emit(_ text: String) {
        if !text.isEmpty { console.print(text) }
    }

    /// One resource in the chosen format; `table` and `name` come from the caller.
    func emit(_ value: JSON, table: () -> String, name: () -> String) {
        switch output {
        case .json: emit(Render.json(value))
        case .yaml: emit(Render.yaml(value))
        case .table: emit(table())
        case .name: emit(name())
        }
    }
}

/// `--wait` and `--timeout`, shared by the commands that start a job.
public struct WaitOptions: ParsableArguments {
    @Flag(name: .long, help: "Follow the job until it ends; the exit code says how it ended.")
    public var wait = false

    @Option(name: .long, help: ArgumentHelp("How long --wait waits (90s, 10m, 1h).", valueName: "duration"))
    public var timeout: Duration = Duration(seconds: 1200)

    public init() {}

    /// Follows the job, printing progress to standard error when the output is for a program (-o json/yaml/name)
    /// and to standard output otherwise; returns the job's last snapshot, or throws for how it ended.
    func follow(_ jobID: String, client: APIClient, options: GlobalOptions) throws(CLIError) -> JSON {
        let console = options.console
        let progressConsole = options.output == .table ? console : Console(terminal: Terminal(isTerminal: false, width: nil, color: false), out: { console.errorRaw($0) }, err: { console.errorRaw($0) })
        // Redrawing in place needs a terminal that moves its cursor: not a pipe, not TERM=dumb.
        let live = progressConsole.terminal.isTerminal && Runtime.current.environment["TERM"] != "dumb"
        let renderer: any JobRenderer = live ? LiveJobRenderer(console: progressConsole) : PlainJobRenderer(console: progressConsole)
        let watcher = JobWatcher(client: client, renderer: renderer, deadline: Date().addingTimeInterval(timeout.seconds)) { console.error($0) }
        let job = try watcher.watch(jobID: jobID)
        return job
    }
}

extension Console {
    func errorRaw(_ text: String) { error(text.hasSuffix("\n") ? String(text.dropLast()) : text) }
}

/// How a finished job becomes the exit code: succeeded 0, failed 3, cancelled 4, with the failed
/// step's message as the sentence on standard error.
func outcome(of job: JSON) throws(CLIError) {
    let status = job["status"]?.string ?? ""
    switch status {
    case "succeeded": return
    case "cancelled":
        throw CLIError(.jobCancelled, "job \(Presentations.text(job["id"])) was cancelled (a delete superseded it, or it was cancelled)")
    default:
        let failed = (job["steps"]?.arrayValue ?? []).first { $0["status"]?.string == "failed" }
        let step = failed.map { " at step \(Presentations.text($0["name"]))" } ?? ""
        let message = failed?["message"]?.string.map { ": \($0)" } ?? ""
        throw CLIError(.jobFailed, "job \(Presentations.text(job["id"])) \(status)\(step)\(message)")
    }
}

/// A length of time as people write it: 90, 90s, 10m, 1h30m, 2d.
public struct Duration: ExpressibleByArgument, Equatable, Sendable {
    public var seconds: Double

    public init(seconds: Double) { self.seconds = seconds }

    public init?(argument: String) {
        if let plain = Double(argument), plain > 0 {
            seconds = plain
            return
        }
        var total = 0.0, number = ""
        for character in argument {
            if character.isNumber || character == "." {
                number.append(character)
                continue
            }
            guard let value = Double(number) else { return nil }
            switch character {
            case "s": total += value
            case "m": total += value * 60
            case "h": total += value * 3600
            case "d": total += value * 86_400
            default: return nil
            }
            number = ""
        }
        guard number.isEmpty, total > 0 else { return nil }
        seconds = total
    }

    public var defaultValueDescription: String { Humanize.duration(seconds, coarse: true) }
}

/// Reading from the terminal: a line, or a secret with echo turned off.
enum Prompt {
    static func read(_ prompt: String, secret: Bool) -> String? {
        // A prompt only for a person: piped input (echo "$TOKEN" | storefleet login) is read silently.
        guard isatty(STDIN_FILENO) == 1 else { return Swift.readLine(strippingNewline: true) }
        FileHandle.standardError.write(Data(prompt.utf8))
        guard secret else { return Swift.readLine(strippingNewline: true) }
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return Swift.readLine(strippingNewline: true)
    }
}

/// Finds stores and tenants by name or ID.
enum Lookup {
    static func isID(_ text: String) -> Bool { UUID(uuidString: text) != nil }

    /// A store by ID, or by name: the caller's own live store of that name; else, for an admin (whose
    /// listing holds every tenant's), the one live store of that name in another tenant (several: name
    /// it by ID); else the caller's newest deleted store of that name.
    static func store(_ reference: String, client: APIClient) throws(CLIError) -> JSON {
        if isID(reference) { return try client.call("GET", "/api/stores/\(reference.lowercased())").json }
        let own = try client.call("GET", "/api/me").json.at("tenant", "id")?.string
        // Page by page, stopping at the caller's own live store: an admin's listing holds every tenant's.
        var named: [JSON] = []
        try pages(client: client, path: "/api/stores", query: []) { page in
            named += page.filter { $0["name"]?.string == reference }
            return !named.contains { $0["tenant_id"]?.string == own && $0["status"]?.string != "deleted" }
        }
        let live = named.filter { $0["status"]?.string != "deleted" }
        let pick: JSON?
        if let mine = live.first(where: { $0["tenant_id"]?.string == own }) {
            pick = mine
        } else if live.count > 1 {
            throw CLIError(.invalidInput, "\(live.count) tenants have a store named \(reference); name it by ID (storefleet stores list -A)")
        } else {
            pick = live.first ?? named.first { $0["tenant_id"]?.string == own }
        }
        guard let pick else { throw CLIError(.notFound, "no store named \(reference)") }
        return try client.call("GET", "/api/stores/\(Presentations.text(pick["id"]))").json
    }

    /// Every page of a listing; a server that repeats a cursor (or never ends) is cut off rather than followed forever.
    static func pages(client: APIClient, path: String, query: [(String, String)]) throws(CLIError) -> [JSON] {
        var items: [JSON] = []
        try pages(client: client, path: path, query: query) { page in
            items += page
            return true
        }
        return items
    }

    /// The pages of a listing, one at a time, until `onPage` says it has seen enough (returns false).
    static func pages(client: APIClient, path: String, query: [(String, String)], _ onPage: ([JSON]) -> Bool) throws(CLIError) {
        var cursor: String?
        var seen: Set<String> = []
        for _ in 0..<1000 {
            var pageQuery = query + [("limit", "200")]
            if let cursor { pageQuery.append(("cursor", cursor)) }
            let page = try client.call("GET", path, query: pageQuery).json
            guard onPage(page["items"]?.arrayValue ?? []),
                  let next = page["next_cursor"]?.string, seen.insert(next).inserted else { return }
            cursor = next
        }
    }

    static func allStores(client: APIClient, status: String?) throws(CLIError) -> [JSON] {
        try pages(client: client, path: "/api/stores", query: status.map { [("status", $0)] } ?? [])
    }

    static func tenant(_ reference: String, client: APIClient) throws(CLIError) -> JSON {
        let tenants = try client.call("GET", "/api/tenants").json["items"]?.arrayValue ?? []
        if let found = tenants.first(where: { $0["name"]?.string == reference || $0["id"]?.string == reference.lowercased() }) { return found }
        throw CLIError(.notFound, "no tenant named \(reference)")
    }
}

/// A fresh Idempotency-Key for one command: its retries send the same key, so they replay rather than repeat.
func newIdempotencyKey() -> String { "cli-" + UUID().uuidString.lowercased() }

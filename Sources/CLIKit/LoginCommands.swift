import ArgumentParser
import Foundation
import KubeClient

struct Login: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Save a server and token as a context, and make it current.",
        discussion: """
            The token is read from standard input, never from an argument (arguments end up in shell \
            history and in ps): typed at a prompt that does not echo, or piped. It is checked with the \
            server (GET /api/me) before it is saved. The context is named after the tenant unless \
            --context names it.

              storefleet login --server http://127.0.0.1:8080 < .data/admin-token
            """
    )

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let runtime = Runtime.current
        let existing = try options.context.flatMap { name throws(CLIError) in try options.loadConfig().context(named: name) }
        guard let server = options.server ?? runtime.environment["STOREFLEET_SERVER"] ?? existing?.server else {
            throw CLIError(.invalidInput, "which server? storefleet login --server URL")
        }
        guard let line = runtime.readLine("Token for \(server): ", true)?.trimmingCharacters(in: .whitespacesAndNewlines), !line.isEmpty else {
            throw CLIError(.invalidInput, "no token on standard input")
        }
        guard line.hasPrefix("sfk_"), !line.contains(where: { $0.isWhitespace }) else {
            throw CLIError(.invalidInput, "that is not a Storefleet API token (they start with sfk_)")
        }
        var target = Target(server: try Target.normalized(server), token: line)
        if let warning = GlobalOptions.cleartextWarning(target) { runtime.console.error(warning) }
        let client = APIClient(target: target, transport: runtime.transport, verbose: options.verbose) { runtime.console.error($0) }
        let me = try client.call("GET", "/api/me").json
        let tenant = Presentations.text(me.at("tenant", "name")), role = Presentations.text(me.at("tenant", "role"))
        let name = options.context ?? tenant
        target.contextName = name
        try ConfigFile.update(at: options.configPath(), warn: { runtime.console.error($0) }) { config throws(CLIError) in
            config.upsert(.init(name: name, server: target.server, token: line))
        }
        runtime.console.error("Logged in to \(target.server) as tenant \(tenant) (\(role)); context \(name) is current.")
    }
}

struct ContextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "context",
        abstract: "List, switch and remove saved contexts (a server and a token each).",
        subcommands: [List.self, Use.self, Current.self, Delete.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the contexts; * marks the current one. Tokens are never shown.")
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let config = try options.loadConfig()
            let items: [JSON] = config.contexts.map {
                ["name": .string($0.name), "server": .string($0.server), "current": .bool($0.name == config.currentContext)]
            }
            options.emit(Render.list(items, as: options.output, Presentations.contexts, width: options.console.terminal.width))
        }
    }

    struct Use: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a context current.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The context's name.") var name: String

        func run() throws {
            try ConfigFile.update(at: options.configPath()) { config throws(CLIError) in
                guard config.context(named: name) != nil else { throw CLIError(.notFound, "no context named \(name); see: storefleet context list") }
                config.currentContext = name
            }
            options.console.error("Context \(name) is current.")
        }
    }

    struct Current: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the current context's name.")
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let config = try options.loadConfig()
            guard let name = config.currentContext else { throw CLIError(.notFound, "no current context; storefleet login first") }
            options.console.print(name)
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget a context and its token (the token stays valid on the server: revoke it there).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The context's name.") var name: String

        func run() throws {
            try ConfigFile.update(at: options.configPath()) { config throws(CLIError) in
                guard config.context(named: name) != nil else { throw CLIError(.notFound, "no context named \(name)") }
                config.contexts.removeAll { $0.name == name }
                if config.currentContext == name { config.currentContext = nil }
            }
            options.console.error("Context \(name) removed.")
        }
    }
}

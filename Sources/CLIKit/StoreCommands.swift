import ArgumentParser
import Foundation
import KubeClient

/// Store names offered by shell completion, read from the API with the current context (quietly: a
/// completion that cannot reach the server offers nothing).
let storeNameCompletion = CompletionKind.custom { _, _, prefix in
    guard let target = try? Target.resolve(config: ConfigFile.load(from: ConfigFile.path(environment: Runtime.current.environment)),
                                           contextFlag: nil, serverFlag: nil, environment: Runtime.current.environment),
          target.token != nil else { return [] }
    let client = APIClient(target: target, transport: Runtime.current.transport) { _ in }
    client.requestTimeout = 3
    client.attempts = 1
    let stores = (try? client.call("GET", "/api/stores", query: [("limit", "200")]).json["items"]?.arrayValue) ?? []
    return stores.compactMap { store -> String? in
        guard let name = store["name"]?.string, store["status"]?.string != "deleted", name.hasPrefix(prefix) else { return nil }
        return name
    }
}

struct Stores: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stores",
        abstract: "Create, list, inspect, update, suspend, resume, retry and delete stores.",
        subcommands: [Create.self, List.self, Get.self, Update.self, Revisions.self, Suspend.self, Resume.self, Delete.self, Retry.self, Credentials.self],
        aliases: ["store"]
    )

    enum Engine: String, ExpressibleByArgument, CaseIterable {
        case woocommerce, medusa
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a store: a namespace with guardrails, a Helm release, and a storefront that sells.",
            discussion: "Answers at once with the store's job; --wait follows it to the end (exit 0 when the store is ready, 3 when its job failed)."
        )
        @OptionGroup var options: GlobalOptions
        @OptionGroup var wait: WaitOptions
        @Argument(help: "The store's name: 3 to 40 lowercase letters, digits and '-', starting with a letter.") var name: String
        @Option(help: "woocommerce or medusa.") var engine: Engine
        @Option(help: "The plan that sizes it (storefleet plans list); the platform's default when left out.") var plan: String?

        func run() throws {
            let client = try options.client()
            var body: JSON = ["name": .string(name), "engine": .string(engine.rawValue)]
            if let plan { body["plan"] = .string(plan) }
            let reply = try client.call("POST", "/api/stores", body: body, idempotencyKey: newIdempotencyKey())
            try finishJobCommand(reply.json, verb: "created", options: options, wait: wait, client: client)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List stores, newest first.")
        @OptionGroup var options: GlobalOptions
        @Flag(name: [.customShort("A"), .long], help: "Every tenant's stores, with a TENANT column (admins; others see their own).")
        var allTenants = false
        @Option(help: "Only stores in this status (provisioning, ready, updating, suspending, suspended, resuming, failed, deleting, deleted).") var status: String?

        func run() throws {
            let client = try options.client()
            var stores = try Lookup.allStores(client: client, status: status)
            var names: [String: String]?
            let me = try client.call("GET", "/api/me").json
            if allTenants {
                if me.at("tenant", "role")?.string == "admin" {
                    let tenants = try client.call("GET", "/api/tenants").json["items"]?.arrayValue ?? []
                    names = Dictionary(tenants.map { (Presentations.text($0["id"]), Presentations.text($0["name"])) }) { a, _ in a }
                }
            } else {
                // An admin's listing holds every tenant's stores; without -A, only the caller's own.
                let own = me.at("tenant", "id")?.string
                stores = stores.filter { $0["tenant_id"]?.string == own }
            }
            options.emit(Render.list(stores, as: options.output, Presentations.stores(tenantNames: names), width: options.console.terminal.width))
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a store: status, URLs and its latest job.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The store's name or ID.", completion: storeNameCompletion) var store: String

        func run() throws {
            let client = try options.client()
            let found = try Lookup.store(store, client: client)
            options.emit(found, table: { Presentations.storeDetail(found) }, name: { Presentations.text(found["name"]) })
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a ready store's plan, application version or chart version.",
            discussion: """
                Makes a new revision of the store and answers with its update job; --wait follows it. When the new \
                revision does not become ready, the job rolls the store back to the revision it ran before and fails: \
                exit 3, with the reason, the store ready on its old version. Nothing to change: exit 0, no job.
                """
        )
        @OptionGroup var options: GlobalOptions
        @OptionGroup var wait: WaitOptions
        @Argument(help: "The store's name or ID.", completion: storeNameCompletion) var store: String
        @Option(help: "The new plan (storefleet plans list).") var plan: String?
        @Option(help: "The new application version: the tag of the store's images, such as 6.8.4-php8.3-apache.") var appVersion: String?
        @Option(help: "The new chart version, which the worker must have (docs/operations.md).") var chartVersion: String?

        func validate() throws {
            guard plan != nil || appVersion != nil || chartVersion != nil else {
                throw ValidationError("give --plan, --app-version, --chart-version or several")
            }
        }

        func run() throws {
            let client = try options.client()
            let found = try Lookup.store(store, client: client)
            var body: JSON = [:]
            if let plan { body["plan"] = .string(plan) }
            if let appVersion { body["app_version"] = .string(appVersion) }
            if let chartVersion { body["chart_version"] = .string(chartVersion) }
            let reply = try client.call("PATCH", "/api/stores/\(Presentations.text(found["id"]))", body: body, idempotencyKey: newIdempotencyKey())
            guard reply.json["job"] != nil, reply.json["job"] != .null else {
                let name = Presentations.text(found["name"])
                options.emit(reply.json, table: { "store \(name) already runs that: nothing to change" }, name: { name })
                return
            }
            try finishJobCommand(reply.json, verb: "updating", options: options, wait: wait, client: client)
        }
    }

    struct Revisions: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a store's revisions, newest first: what each asked for, who asked, and how it ended."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The store's name or ID.", completion: storeNameCompletion) var store: String

        func run() throws {
            let client = try options.client()
            let found = try Lookup.store(store, client: client)
            let revisions = try client.call("GET", "/api/stores/\(Presentations.text(found["id"]))/revisions", query: [("limit", "200")]).json["items"]?.arrayValue ?? []
            options.emit(Render.list(revisions, as: options.output, Presentations.revisions, width: options.console.terminal.width))
        }
    }

    struct Suspend: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Suspend a ready store: every workload scaled to zero, its data kept; the storefront answers 503.",
            discussion: "A store an administrator suspends can only be resumed by an administrator. --wait exits 0 once no pod of the store runs."
        )
        @OptionGroup var options: GlobalOptions
        @OptionGroup var wait: WaitOptions
        @Argument(help: "The store's name or ID.", completion: storeNameCompletion) var store: String
        @Option(help: "Why, for the audit trail and the store's page (at most 500 characters).") var reason: String?

        func run() throws {
            let client = try options.client()
            let found = try Lookup.store(store, client: client)
            let body: JSON = reason.map { ["reason": .string($0)] } ?? [:]
            let reply = try client.call("POST", "/api/stores/\(Presentations.text(found["id"]))/suspend", body: body, idempotencyKey: newIdempotencyKey())
            try finishJobCommand(reply.json, verb: "suspending", options: options, wait: wait, client: client)
        }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume a suspended store; --wait exits 0 once it sells again.",
            discussion: "A store an administrator suspended answers exit 7 (forbidden) to its tenant."
        )
        @OptionGroup var options: GlobalOptions
        @OptionGroup var wait: WaitOptions
        @Argument(help: "The store's name or ID.", completion: storeNameCompletion) var store: String

        func run() throws {
            let client = try options.client()
            let found = try Lookup.store(store, client: client)
            let reply = try client.call("POST", "/api/stores/\(Presentations.text(found["id"]))/resume", idempotencyKey: newIdempotencyKey())
            try finishJobCommand(reply.json, verb: "resuming", options: options, wait: wait, client: client)
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a store: its release, its namespace and everything in it.",
            discussion: "On a terminal, asks for the store's name to be typed unless --yes is given. Deleting a store that is being deleted (or is gone) answers with its delete job again."
        )
        @OptionGroup var options: GlobalOptions
        @OptionGroup var wait: WaitOptions
        @Argument(help: "The store's name or ID.", completion: storeNameCompletion) var store: String
        @Flag(name: [.short, .long], help: "Do not ask.") var yes = false

        func run() throws {
            let client = try options.client()
            let found = try Lookup.store(store, client: client)
            let name = Presentations.text(found["name"])
            let runtime = Runtime.current
            if !yes && runtime.console.terminal.inputIsTerminal {
                let typed = runtime.readLine("This deletes store \(name) and all its data. Type its name to confirm: ", false)
                guard typed?.trimmingCharacters(in: .whitespaces) == name else {
                    throw CLIError(.invalidInput, "not deleted: the name typed was not \(name)")
                }
            }
            let reply = try client.call("DELETE", "/api/stores/\(Presentations.text(found["id"]))", idempotencyKey: newIdempotencyKey())
            try finishJobCommand(reply.json, verb: "deleting", options: options, wait: wait, client: client)
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a failed store's job again from the step that failed.")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var wait: WaitOptions
        @Argument(help: "The store's name or ID.", completion: storeNameCompletion) var store: String

        func run() throws {
            let client = try options.client()
            let found = try Lookup.store(store, client: client)
            let reply = try client.call("POST", "/api/stores/\(Presentations.text(found["id"]))/retry", idempotencyKey: newIdempotencyKey())
            try finishJobCommand(reply.json, verb: "retrying", options: options, wait: wait, client: client)
        }
    }

    struct Credentials: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a store's admin URL and user; the password only with --reveal.",
            discussion: "Read from the store's Secret in the cluster at each call, and audited. With --reveal and standard output not a terminal, a warning goes to standard error: the password is about to land in a file or a pipe."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The store's name or ID.", completion: storeNameCompletion) var store: String
        @Flag(help: "Print the password too.") var reveal = false

        func run() throws {
            let client = try options.client()
            let found = try Lookup.store(store, client: client)
            var credentials = try client.call("GET", "/api/stores/\(Presentations.text(found["id"]))/credentials", secretResponse: true).json
            let console = options.console
            if reveal {
                if !console.terminal.isTerminal {
                    console.error("warning: writing store \(Presentations.text(found["name"]))'s admin password to a file or pipe, not a terminal")
                }
            } else {
                credentials["password"] = nil
            }
            options.emit(credentials, table: {
                var lines = ["Admin URL: \(Presentations.text(credentials["admin_url"]))",
                             "Username:  \(Presentations.text(credentials["username"]))",
                             "Email:     \(Presentations.text(credentials["email"]))"]
                lines.append("Password:  " + (reveal ? Presentations.text(credentials["password"]) : "(hidden; --reveal prints it)"))
                return lines.joined(separator: "\n")
            }, name: { Presentations.text(credentials["username"]) })
        }
    }
}

/// After a command that started a job (`{store, job}`): prints it, and with --wait follows the job
/// and exits as it ended.
func finishJobCommand(_ reply: JSON, verb: String, options: GlobalOptions, wait: WaitOptions, client: APIClient) throws(CLIError) {
    let store = reply["store"] ?? .null, job = reply["job"] ?? .null
    let name = Presentations.text(store["name"]), jobID = Presentations.text(job["id"])
    guard wait.wait else {
        options.emit(reply, table: { "store \(name) \(verb): job \(jobID) (\(Presentations.text(job["status"])))" }, name: { name })
        return
    }
    if options.output == .table { options.console.print("store \(name) \(verb): job \(jobID)") }
    let final = try wait.follow(jobID, client: client, options: options)
    if options.output != .table {
        var combined = reply
        combined["job"] = final
        options.emit(combined, table: { "" }, name: { name })
    }
    try outcome(of: final)
    if options.output == .table {
        let latest = try? client.call("GET", "/api/stores/\(Presentations.text(store["id"]))").json
        options.console.print("store \(name) is \(Presentations.text(latest?["status"] ?? store["status"]))")
    }
}

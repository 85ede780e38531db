import ArgumentParser
import Foundation
import KubeClient

struct Tenants: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenants",
        abstract: "Manage tenants, the customers whose stores the platform keeps apart (admins).",
        subcommands: [Create.self, List.self, Update.self],
        aliases: ["tenant"]
    )

    enum Role: String, ExpressibleByArgument, CaseIterable { case member, admin }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "2 to 63 lowercase letters, digits or '-'.") var name: String
        @Option(help: "member or admin.") var role: Role = .member
        @Option(help: "How many live stores it may have (0 to 1000).") var storeLimit: Int = 5
        @Option(help: "The plans its stores may use, separated by commas (every plan when left out).") var allowedPlans: String?

        static func planList(_ text: String) -> JSON {
            .array(text.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) })
        }

        func run() throws {
            let client = try options.client()
            var body: JSON = ["name": .string(name), "role": .string(role.rawValue), "store_limit": .number(Double(storeLimit))]
            if let allowedPlans { body["allowed_plans"] = Self.planList(allowedPlans) }
            let tenant = try client.call("POST", "/api/tenants", body: body, idempotencyKey: newIdempotencyKey()).json
            options.emit(tenant, table: { Table(headers: Presentations.tenants.headers, rows: [Presentations.tenants.row(tenant)]).render(width: options.console.terminal.width) },
                         name: { Presentations.text(tenant["name"]) })
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every tenant.")
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let client = try options.client()
            let tenants = try client.call("GET", "/api/tenants").json["items"]?.arrayValue ?? []
            options.emit(Render.list(tenants, as: options.output, Presentations.tenants, width: options.console.terminal.width))
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a tenant's store limit or allowed plans.",
            discussion: "Lowering the limit deletes nothing and narrowing the plans moves no store: they only hold back new stores and changes. --allowed-plans all allows every plan again."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The tenant's name or ID.") var tenant: String
        @Option(help: "How many live stores it may have (0 to 1000).") var storeLimit: Int?
        @Option(help: "The plans its stores may use, separated by commas, or all.") var allowedPlans: String?

        func validate() throws {
            guard storeLimit != nil || allowedPlans != nil else { throw ValidationError("give --store-limit, --allowed-plans or both") }
        }

        func run() throws {
            let client = try options.client()
            let found = try Lookup.tenant(tenant, client: client)
            var body: JSON = [:]
            if let storeLimit { body["store_limit"] = .number(Double(storeLimit)) }
            if let allowedPlans { body["allowed_plans"] = allowedPlans == "all" ? .null : Create.planList(allowedPlans) }
            let updated = try client.call("PATCH", "/api/tenants/\(Presentations.text(found["id"]))", body: body,
                                          idempotencyKey: newIdempotencyKey()).json
            options.emit(updated, table: { Table(headers: Presentations.tenants.headers, rows: [Presentations.tenants.row(updated)]).render(width: options.console.terminal.width) },
                         name: { Presentations.text(updated["name"]) })
        }
    }
}

struct Tokens: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Issue, list and revoke a tenant's API tokens (admins).",
        subcommands: [Create.self, List.self, Revoke.self],
        aliases: ["token"]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a token. It is shown once: the server keeps only its hash.",
            discussion: "Sent without an Idempotency-Key (the server refuses one: a replay would need the token stored) and never retried once sent; if the answer is lost, revoke the token by its name and issue another."
        )
        @OptionGroup var options: GlobalOptions
        @Option(help: "The tenant's name or ID.") var tenant: String
        @Option(help: "What the token is for, as listed later.") var name: String?
        @Option(help: ArgumentHelp("Let it expire after this long (1h, 30d); at least a minute, at most five years.", valueName: "duration"))
        var expiresIn: Duration?

        func run() throws {
            let client = try options.client()
            let found = try Lookup.tenant(tenant, client: client)
            var body: JSON = [:]
            if let name { body["name"] = .string(name) }
            if let expiresIn {
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withInternetDateTime]
                body["expires_at"] = .string(formatter.string(from: Date().addingTimeInterval(expiresIn.seconds)))
            }
            let issued = try client.call("POST", "/api/tenants/\(Presentations.text(found["id"]))/tokens", body: body, secretResponse: true).json
            options.emit(issued, table: {
                "\(Presentations.text(issued["token"]))\n" + "(token \(Presentations.text(issued["id"])) for tenant \(Presentations.text(found["name"])); shown once, store it now)"
            }, name: { Presentations.text(issued["id"]) })
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's tokens: state, last use and expiry; never the secret.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "The tenant's name or ID.") var tenant: String

        func run() throws {
            let client = try options.client()
            let found = try Lookup.tenant(tenant, client: client)
            let tokens = try client.call("GET", "/api/tenants/\(Presentations.text(found["id"]))/tokens").json["items"]?.arrayValue ?? []
            options.emit(Render.list(tokens, as: options.output, Presentations.tokens, width: options.console.terminal.width))
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token at once (by its ID, or its name when only one token has it).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "The tenant's name or ID.") var tenant: String
        @Argument(help: "The token's ID or name.") var token: String

        func run() throws {
            let client = try options.client()
            let found = try Lookup.tenant(tenant, client: client)
            let tenantID = Presentations.text(found["id"])
            var tokenID = token.lowercased()
            if !Lookup.isID(token) {
                let matches = (try client.call("GET", "/api/tenants/\(tenantID)/tokens").json["items"]?.arrayValue ?? [])
                    .filter { $0["name"]?.string == token && $0["state"]?.string == "active" }
                guard matches.count == 1, let id = matches[0]["id"]?.string else {
                    throw CLIError(matches.isEmpty ? .notFound : .invalidInput,
                                   matches.isEmpty ? "no active token named \(token)" : "\(matches.count) active tokens are named \(token); revoke by ID")
                }
                tokenID = id
            }
            let revoked = try client.call("DELETE", "/api/tenants/\(tenantID)/tokens/\(tokenID)", idempotencyKey: newIdempotencyKey()).json
            options.emit(revoked, table: { "token \(tokenID) revoked" }, name: { tokenID })
        }
    }
}

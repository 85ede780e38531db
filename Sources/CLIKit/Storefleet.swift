import ArgumentParser
import Foundation

/// `storefleet`: the command-line client of a Storefleet gateway.
public struct Storefleet: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "storefleet",
        abstract: "Create, watch, update and delete WooCommerce and MedusaJS stores on a Storefleet platform.",
        discussion: """
            A client of the gateway's HTTP API. Log in once (the token is read from standard input and \
            kept in $XDG_CONFIG_HOME/storefleet/config, mode 600), or set STOREFLEET_SERVER and \
            STOREFLEET_TOKEN. Every change is sent with an Idempotency-Key and retried with the same key \
            after a dropped connection, so a flaky network never makes two stores.

              echo "$TOKEN" | storefleet login --server https://storefleet.example.com
              storefleet stores create acme-shop --engine woocommerce --plan small --wait
              storefleet stores list -o json | jq -r '.items[].name'
              storefleet stores update acme-shop --app-version 6.8.4-php8.3-apache --wait
              storefleet rollouts create --app-version 6.8.4-php8.3-apache --engine woocommerce --wave-percent 20 --wait
              storefleet stores delete acme-shop --yes --wait

            \(ExitStatus.helpTable)
            """,
        subcommands: [Login.self, ContextCommand.self, Stores.self, Plans.self, Rollouts.self, Jobs.self, Tenants.self, Tokens.self]
    )

    public init() {}

    /// Parses, runs, and exits with the documented code: usage errors exit 2 like refused input.
    public static func run(_ arguments: [String]) -> Int32 {
        let console = Runtime.current.console
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let error as CLIError {
            console.error("storefleet: \(error)")
            return error.status.rawValue
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { console.print(message) }
                return 0
            }
            console.error(message)
            return code == .validationFailure ? ExitStatus.invalidInput.rawValue : code.rawValue
        }
    }
}

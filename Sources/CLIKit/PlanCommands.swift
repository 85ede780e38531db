import ArgumentParser
import Foundation
import KubeClient

/// The plans stores may be put on.
struct Plans: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plans",
        abstract: "List the plans stores may be put on.",
        subcommands: [List.self],
        defaultSubcommand: List.self,
        aliases: ["plan"]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the plans: the default (*), whether your tenant may use each, and the engines each offers.",
            discussion: "-o json or yaml adds each plan's guardrails per engine (CPU, memory, pods, storage)."
        )
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let client = try options.client()
            let plans = try client.call("GET", "/api/plans").json["items"]?.arrayValue ?? []
            options.emit(Render.list(plans, as: options.output, Presentations.plans, width: options.console.terminal.width))
        }
    }
}

import ArgumentParser
import Foundation
import KubeClient

/// Fleet rollouts (administrators).
struct Rollouts: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollouts",
        abstract: "Roll a new version across stores in waves, canary first; list, inspect, resume and cancel rollouts (admins).",
        subcommands: [Create.self, List.self, Get.self, Halt.self, Resume.self, Cancel.self],
        aliases: ["rollout"]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a rollout: every selected store gets the new version through its own update job, wave by wave.",
            discussion: """
                The canary wave goes first; each later wave starts once the one before has ended with no more failures \
                than --failure-threshold. A store whose new version does not become ready is rolled back by its update \
                job; too many in a wave halt the rollout (resume or cancel it). With --wait, exit 0 when the rollout \
                completes and 3 when it halts.
                """
        )
        @OptionGroup var options: GlobalOptions
        @OptionGroup var wait: WaitOptions
        @Option(help: "The application version (image tag) to roll out.") var appVersion: String?
        @Option(help: "The chart version to roll out (the workers must have it).") var chartVersion: String?
        @Option(help: "Only stores of this engine.") var engine: Stores.Engine?
        @Option(help: "Only this tenant's stores (name or ID).") var tenant: String?
        @Option(help: "Only stores on this plan.") var plan: String?
        @Option(name: .customLong("store"), help: "Only these stores (name or ID); repeat for several.") var stores: [String] = []
        @Option(help: "Stores in the canary wave.") var canary: Int?
        @Option(help: "Stores per wave after the canary.") var waveSize: Int?
        @Option(help: "Stores per wave as a share of the selected stores, 1 to 100.") var wavePercent: Int?
        @Option(help: "Updates running at once.") var maxParallel: Int?
        @Option(help: "Failed stores a wave may have before the rollout halts.") var failureThreshold: Int?

        func validate() throws {
            guard appVersion != nil || chartVersion != nil else { throw ValidationError("give --app-version, --chart-version or both") }
            if waveSize != nil && wavePercent != nil { throw ValidationError("give --wave-size or --wave-percent, not both") }
        }

        func run() throws {
            let client = try options.client()
            var target: JSON = [:]
            if let appVersion { target["app_version"] = .string(appVersion) }
            if let chartVersion { target["chart_version"] = .string(chartVersion) }
            var selector: JSON = [:]
            if let engine { selector["engine"] = .string(engine.rawValue) }
            if let plan { selector["plan"] = .string(plan) }
            if let tenant { selector["tenant_id"] = try Lookup.tenant(tenant, client: client)["id"] ?? .null }
            if !stores.isEmpty { selector["store_ids"] = .array(try stores.map { try Lookup.store($0, client: client)["id"] ?? .null }) }
            var strategy: JSON = [:]
            for (key, value) in [("canary", canary), ("wave_size", waveSize), ("wave_percent", wavePercent), ("max_parallel", maxParallel),
                                 ("failure_threshold", failureThreshold)] {
                if let value { strategy[key] = .number(Double(value)) }
            }
            let rollout = try client.call("POST", "/api/rollouts", body: ["target": target, "selector": selector, "strategy": strategy],
                                          idempotencyKey: newIdempotencyKey()).json
            try finishRollout(rollout, verb: "started", options: options, wait: wait, client: client)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List rollouts, newest first.")
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let client = try options.client()
            let rollouts = try client.call("GET", "/api/rollouts").json["items"]?.arrayValue ?? []
            options.emit(Render.list(rollouts, as: options.output, Presentations.rollouts, width: options.console.terminal.width))
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a rollout: its waves' progress and the stores that did not take the new version.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The rollout's ID.") var id: String

        func run() throws {
            let rollout = try rolloutID(id)
            let client = try options.client()
            let found = try client.call("GET", "/api/rollouts/\(rollout)").json
            options.emit(found, table: { Presentations.rolloutDetail(found, width: options.console.terminal.width) }, name: { Presentations.text(found["id"]) })
        }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Go on with a halted rollout past the wave it halted at.")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var wait: WaitOptions
        @Argument(help: "The rollout's ID.") var id: String

        func run() throws {
            let target = try rolloutID(id)
            let client = try options.client()
            let rollout = try client.call("POST", "/api/rollouts/\(target)/resume", idempotencyKey: newIdempotencyKey()).json
            try finishRollout(rollout, verb: "resumed", options: options, wait: wait, client: client)
        }
    }

    struct Halt: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a running rollout: no more stores start (running updates finish) until it is resumed.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The rollout's ID.") var id: String

        func run() throws {
            let target = try rolloutID(id)
            let client = try options.client()
            let rollout = try client.call("POST", "/api/rollouts/\(target)/halt", idempotencyKey: newIdempotencyKey()).json
            options.emit(rollout, table: { "rollout \(Presentations.text(rollout["id"])) halting" }, name: { Presentations.text(rollout["id"]) })
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a running or halted rollout: no store not yet started is; running updates finish.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The rollout's ID.") var id: String

        func run() throws {
            let target = try rolloutID(id)
            let client = try options.client()
            let rollout = try client.call("POST", "/api/rollouts/\(target)/cancel", idempotencyKey: newIdempotencyKey()).json
            options.emit(rollout, table: { "rollout \(Presentations.text(rollout["id"])) cancelling" }, name: { Presentations.text(rollout["id"]) })
        }
    }
}

func rolloutID(_ text: String) throws(CLIError) -> String {
    guard let id = UUID(uuidString: text) else { throw CLIError(.invalidInput, "\(text) is not a rollout ID") }
    return id.uuidString.lowercased()
}

/// Prints a rollout just started or resumed; with --wait follows its job, then shows where it ended.
func finishRollout(_ rollout: JSON, verb: String, options: GlobalOptions, wait: WaitOptions, client: APIClient) throws(CLIError) {
    let id = Presentations.text(rollout["id"]), job = Presentations.text(rollout["job_id"])
    guard wait.wait else {
        options.emit(rollout, table: { "rollout \(id) \(verb): \(Presentations.text(rollout["stores"])) stores in \(rollout["waves"]?.arrayValue?.count ?? 0) waves (job \(job))" },
                     name: { id })
        return
    }
    if options.output == .table { options.console.print("rollout \(id) \(verb): job \(job)") }
    let final = try wait.follow(job, client: client, options: options)
    let latest = (try? client.call("GET", "/api/rollouts/\(id)").json) ?? rollout
    options.emit(latest, table: { Presentations.rolloutDetail(latest, width: options.console.terminal.width) }, name: { id })
    try outcome(of: final)
}

import ArgumentParser
import Foundation
import KubeClient

struct Jobs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Inspect and follow the jobs that create, retry and delete stores.",
        subcommands: [Get.self, Watch.self, List.self],
        aliases: ["job"]
    )

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a job and its steps: status, attempts, durations, last messages.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The job's ID.") var id: String

        func run() throws {
            try validateID(id)
            let client = try options.client()
            let job = try client.call("GET", "/api/jobs/\(id.lowercased())").json
            options.emit(job, table: { Presentations.jobDetail(job, width: options.console.terminal.width) }, name: { Presentations.text(job["id"]) })
        }
    }

    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow a job until it ends.",
            discussion: "On a terminal, a live step list; piped, one line per change. Exits 0 when the job succeeded, 3 failed, 4 cancelled, 5 when --timeout passes first."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The job's ID.") var id: String
        @Option(help: ArgumentHelp("How long to wait (90s, 10m, 1h).", valueName: "duration")) var timeout: Duration = Duration(seconds: 1200)

        func run() throws {
            try validateID(id)
            let client = try options.client()
            var wait = WaitOptions()
            wait.wait = true
            wait.timeout = timeout
            let job = try wait.follow(id.lowercased(), client: client, options: options)
            if options.output != .table { options.emit(job, table: { "" }, name: { Presentations.text(job["id"]) }) }
            try outcome(of: job)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a store's jobs, newest first.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "The store's name or ID.", completion: storeNameCompletion) var store: String

        func run() throws {
            let client = try options.client()
            let found = try Lookup.store(store, client: client)
            let jobs = try Lookup.pages(client: client, path: "/api/jobs", query: [("store", Presentations.text(found["id"]))])
            options.emit(Render.list(jobs, as: options.output, Presentations.jobs, width: options.console.terminal.width))
        }
    }
}

func validateID(_ text: String) throws(CLIError) {
    guard Lookup.isID(text) else { throw CLIError(.invalidInput, "\(text) is not a job ID (a UUID)") }
}

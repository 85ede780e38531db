import Foundation
import KubeClient
import ServiceRuntime

/// helm's subcommands, over the release records and the cluster.
struct Commands {
    let options: Options
    let releases: ReleaseStore
    let cluster: Cluster
    let journal: Journal
    let helm: String
    let faultsPath: String?

    private func say(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    private func json(_ value: JSON) -> String {
        String(decoding: value.serialized(), as: UTF8.self)
    }

    private func one(_ usage: String) throws(HelmFailure) -> String {
        guard options.positional.count == 1 else { throw HelmFailure(usage) }
        return options.positional[0]
    }

    /// The chart rendered by the real helm; its own message and exit status on a chart or values error.
    private func render(_ name: String, _ chart: String) async throws(HelmFailure) -> String {
        var arguments = ["template", name, chart, "--namespace", options.namespace]
        for file in options.valueFiles { arguments += ["-f", file] }
        arguments += options.sets
        let outcome: ChildProcess.Outcome
        do {
            outcome = try await ChildProcess.run(helm, arguments)
        } catch {
            throw HelmFailure("helm-sim: cannot run \(helm): \(error)")
        }
        guard outcome.succeeded else {
            FileHandle.standardError.write(Data(outcome.stderr))
            journal.endOpenOperation(outcome: "error")
            exit(1)
        }
        return outcome.standardOutput
    }

    /// Every object of the manifest applied, in helm's order; nil, or helm's message for the first failure.
    private func apply(_ manifest: String, release: String) async -> String? {
        do {
            for object in try Manifest(yaml: manifest, release: release, namespace: options.namespace).objects {
                try await cluster.apply(object, namespace: options.namespace)
            }
            return nil
        } catch let failure as HelmFailure {
            return failure.message
        } catch let error as KubeError {
            return "failed to apply resource: \(error.message)"
        } catch {
            return "\(error)"
        }
    }

    func upgrade(installOnly: Bool) async throws(HelmFailure) {
        guard options.positional.count == 2 else {
            throw HelmFailure("\"helm upgrade\" requires 2 arguments\n\nUsage:  helm upgrade [RELEASE] [CHART] [flags]")
        }
        let (name, chart, namespace) = (options.positional[0], options.positional[1], options.namespace)
        let history = try await releases.history(name: name, namespace: namespace)
        let last = history.last
        if let last, last.isPending {
            throw HelmFailure("UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress")
        }
        if installOnly, let last, last.status != "uninstalled" {
            throw HelmFailure("INSTALL FAILED: cannot re-use a name that is still in use")
        }
        let verb = last?.status == "deployed" ? "upgrade" : "install"
        let manifest = try await render(name, chart)
        let now = Revision.now()
        var revision = Revision(
            name: name, namespace: namespace, version: (last?.version ?? 0) + 1, chart: chart, manifest: manifest,
            status: "pending-\(verb)", firstDeployed: last?.firstDeployed ?? now, lastDeployed: now, description: "Preparing \(verb)"
        )
        let operation = Journal.Operation(namespace: namespace, release: name, operation: verb)
        journal.start(operation, revision: revision.version)
        try await releases.save(revision)

        let faults = try Faults.load(faultsPath)
        if Faults.matches(faults.stuck, namespace: namespace, release: name) {
            journal.end(operation, outcome: "stuck")
            throw HelmFailure("\(verb) interrupted (helm-sim fault: release left \(revision.status))")
        }
        if Faults.matches(faults.hang, namespace: namespace, release: name) {
            // The caller's timeout kills us, leaving the release pending, as with a real helm.
            while true { try? await Task.sleep(for: .seconds(3600)) }
        }
        var failure = Faults.matches(faults.fail, namespace: namespace, release: name) ? "helm-sim injected failure" : nil
        if failure == nil { failure = await apply(manifest, release: name) }
        if failure == nil, Faults.matches(faults.hangAfterApply, namespace: namespace, release: name) {
            while true { try? await Task.sleep(for: .seconds(3600)) }
        }
        if let failure {
            revision.status = "failed"
            revision.description = failure
            try await releases.save(revision)
            journal.end(operation, outcome: "failed")
            throw HelmFailure("\(verb.uppercased()) FAILED: \(failure)")
        }
        for var previous in history where previous.status == "deployed" {
            previous.status = "superseded"
            try await releases.save(previous)
        }
        revision.status = "deployed"
        revision.description = verb.prefix(1).uppercased() + verb.dropFirst() + " complete"
        try await releases.save(revision)
        journal.end(operation, outcome: "deployed", revision: revision.version)
        if verb == "upgrade" { say("Release \"\(name)\" has been upgraded. Happy Helming!") }
        say("NAME: \(name)\nLAST DEPLOYED: \(revision.lastDeployed)\nNAMESPACE: \(namespace)\nSTATUS: deployed\nREVISION: \(revision.version)")
    }

    func uninstall() async throws(HelmFailure) {
        let name = try one("\"helm uninstall\" requires at least 1 argument")
        let history = try await releases.history(name: name, namespace: options.namespace)
        guard let last = history.last else { throw HelmFailure("uninstall: Release not loaded: \(name): release: not found") }
        let operation = Journal.Operation(namespace: options.namespace, release: name, operation: "uninstall")
        journal.start(operation)
        var errors: [String] = []
        do {
            for object in try Manifest(yaml: last.manifest, release: name, namespace: options.namespace).objects.reversed() {
                do {
                    try await cluster.delete(object, namespace: options.namespace)
                } catch {
                    errors.append(error.message)
                }
            }
        } catch {
            errors.append(error.message)
        }
        // As helm's action/uninstall.go: the release's records are purged even when some objects could
        // not be deleted, and those errors are reported after.
        for revision in history {
            do {
                try await releases.remove(revision)
            } catch {
                errors.append("uninstall: Failed to purge the release: \(error.message)")
                break
            }
        }
        guard errors.isEmpty else {
            journal.end(operation, outcome: "failed")
            throw HelmFailure("uninstallation completed with \(errors.count) error(s): \(errors.joined(separator: "; "))")
        }
        journal.end(operation, outcome: "uninstalled")
        say("release \"\(name)\" uninstalled")
    }

    func status() async throws(HelmFailure) {
        let name = try one("\"helm status\" requires 1 argument")
        guard let last = try await releases.history(name: name, namespace: options.namespace).last else { throw HelmFailure("release: not found") }
        if options.output == "json" {
            say(json(["name": .string(last.name), "namespace": .string(last.namespace), "version": .number(Double(last.version)), "info": last.info]))
        } else {
            say("NAME: \(last.name)\nNAMESPACE: \(last.namespace)\nSTATUS: \(last.status)\nREVISION: \(last.version)")
        }
    }

    func history() async throws(HelmFailure) {
        let name = try one("\"helm history\" requires 1 argument")
        let history = try await releases.history(name: name, namespace: options.namespace)
        guard !history.isEmpty else { throw HelmFailure("release: not found") }
        let shown = history.suffix(options.max)
        if options.output == "json" {
            say(json(.array(shown.map { revision in
                ["revision": .number(Double(revision.version)), "updated": .string(revision.lastDeployed), "status": .string(revision.status),
                 "chart": .string(revision.chart), "description": .string(revision.description)]
            })))
        } else {
            say("REVISION\tSTATUS\tCHART\tDESCRIPTION")
            for revision in shown { say("\(revision.version)\t\(revision.status)\t\(revision.chart)\t\(revision.description)") }
        }
    }

    func rollback() async throws(HelmFailure) {
        guard let name = options.positional.first else { throw HelmFailure("\"helm rollback\" requires at least 1 argument") }
        let history = try await releases.history(name: name, namespace: options.namespace)
        guard let last = history.last else { throw HelmFailure("release: not found") }
        let wanted = options.positional.count > 1 ? Int(options.positional[1]) : nil
        // Rolling back a release left pending is how a stuck release is remediated (helm-controller does it).
        let candidates = history.filter { revision in
            revision.version != last.version
                && (wanted.map { revision.version == $0 } ?? ["deployed", "superseded"].contains(revision.status))
        }
        guard let target = candidates.last else { throw HelmFailure("release has no \(wanted.map(String.init) ?? "previous") version") }
        let operation = Journal.Operation(namespace: options.namespace, release: name, operation: "rollback")
        journal.start(operation)
        if let failure = await apply(target.manifest, release: name) {
            journal.end(operation, outcome: "failed")
            throw HelmFailure("rollback failed: \(failure)")
        }
        for var revision in history where ["deployed", "pending-install", "pending-upgrade", "pending-rollback"].contains(revision.status) {
            revision.status = revision.status == "deployed" ? "superseded" : "failed"
            try await releases.save(revision)
        }
        var restored = target
        restored.version = last.version + 1
        restored.status = "deployed"
        restored.lastDeployed = Revision.now()
        restored.description = "Rollback to \(target.version)"
        try await releases.save(restored)
        journal.end(operation, outcome: "deployed", revision: restored.version)
        say("Rollback was a success! Happy Helming!")
    }

    func list() async throws(HelmFailure) {
        let found = try await releases.history(namespace: options.allNamespaces ? nil : options.namespace)
        var latest: [String: Revision] = [:]
        var order: [String] = []
        for revision in found {
            let key = "\(revision.namespace)/\(revision.name)"
            if latest[key] == nil { order.append(key) }
            latest[key] = revision
        }
        let rows = order.compactMap { latest[$0] }
        if options.output == "json" {
            say(json(.array(rows.map { revision in
                ["name": .string(revision.name), "namespace": .string(revision.namespace), "revision": .string(String(revision.version)),
                 "status": .string(revision.status), "chart": .string(revision.chart)]
            })))
        } else {
            say("NAME\tNAMESPACE\tREVISION\tSTATUS\tCHART")
            for revision in rows { say("\(revision.name)\t\(revision.namespace)\t\(revision.version)\t\(revision.status)\t\(revision.chart)") }
        }
    }
}

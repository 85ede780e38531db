// helm-sim: a stand-in for the helm binary on clusters simulated by kube-sim (docs/simulator.md).
//
// The worker runs whatever HELM_BIN names exactly as it runs the real helm; pointed at this program it
// gets helm's behaviour without a real cluster:
//   * charts are rendered by the real `helm template` (HELM_SIM_HELM, default `helm` on PATH), so chart
//     and values errors read exactly as helm's;
//   * the rendered objects go to the cluster's API as helm 4 sends them: server-side apply under the
//     field manager "helm", in helm's install order (uninstall deletes in reverse), with helm's
//     ownership label and annotations, through the same Kubernetes client and kubeconfig handling as
//     the worker (KUBECONFIG or --kubeconfig, --kube-context);
//   * releases are kept as helm keeps them, in Secrets of the release's namespace, including
//     pending-install/pending-upgrade while an operation runs; a release left pending makes the next
//     operation fail with helm's "another operation (install/upgrade/rollback) is in progress";
//   * HELM_SIM_JOURNAL and HELM_SIM_FAULTS: see Journal.swift.
// It is a compiled program rather than a script because it runs once per helm call: the worker's own
// cost per store should not be drowned by an interpreter starting up beside it.
import Dispatch
import Foundation
import KubeClient
import ServiceRuntime

let environment = ProcessInfo.processInfo.environment
let journal = Journal(path: environment["HELM_SIM_JOURNAL"])

func fail(_ failure: HelmFailure) -> Never {
    journal.endOpenOperation(outcome: "error")
    FileHandle.standardError.write(Data("Error: \(failure.message.trimmingCharacters(in: .whitespacesAndNewlines))\n".utf8))
    exit(failure.exitCode)
}

// As helm does when interrupted: stop, leaving the release as it stands (pending), and say so.
signal(SIGTERM, SIG_IGN)
let termination = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
termination.setEventHandler {
    journal.endOpenOperation(outcome: "terminated")
    FileHandle.standardError.write(Data("Error: interrupted (SIGTERM)\n".utf8))
    exit(143)
}
termination.resume()

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    fail(HelmFailure("helm-sim: a subcommand is required (upgrade, install, uninstall, status, history, rollback, list, version)"))
}
let helm = environment["HELM_SIM_HELM"] ?? "helm"

switch command {
case "version":
    print(#"version.BuildInfo{Version:"v4.1.4-helm-sim"}"#)
    exit(0)
case "template":
    // Rendering is the real helm's, output and errors included.
    let argv = ([helm, "template"] + arguments.dropFirst()).map { strdup($0) } + [nil]
    execvp(helm, argv)
    fail(HelmFailure("helm-sim: cannot run \(helm): \(String(cString: strerror(errno)))"))
default:
    break
}

do {
    let options = try Options(Array(arguments.dropFirst()))
    let cluster = try Cluster(kubeconfig: options.kubeconfig, context: options.context)
    let commands = Commands(options: options, releases: ReleaseStore(cluster: cluster), cluster: cluster, journal: journal, helm: helm,
                            faultsPath: environment["HELM_SIM_FAULTS"])
    switch command {
    case "upgrade": try await commands.upgrade(installOnly: false)
    case "install": try await commands.upgrade(installOnly: true)
    case "uninstall", "delete": try await commands.uninstall()
    case "status": try await commands.status()
    case "history": try await commands.history()
    case "rollback": try await commands.rollback()
    case "list", "ls": try await commands.list()
    default: throw HelmFailure("unknown command \"\(command)\" for \"helm\"")
    }
} catch let failure as HelmFailure {
    fail(failure)
} catch {
    fail(HelmFailure("\(error)"))
}

import Foundation
import Jobs
import KubeClient
import ServiceRuntime

extension Provisioner {
    /// Waits until a suspended store runs nothing: every Deployment and StatefulSet of the release at
    /// zero replicas and none of its pods left running, terminating ones included (they still serve
    /// and still count against the quota). Reports how many are still stopping.
    func stoppedStep() -> StepDefinition {
        StepDefinition("stopped", timeout: 600, retry: RetryPolicy(maxAttempts: 3, initialDelay: 5, maxDelay: 30)) { context in
            let store = try await self.store(context)
            let selector = [("labelSelector", "app.kubernetes.io/instance=\(store.release)")]
            var looks = 0
            var lastMessage = ""
            while true {
                try context.checkpoint()
                looks += 1
                var running: [String] = []
                for (group, plural) in [("apps/v1", "deployments"), ("apps/v1", "statefulsets")] {
                    for workload in try await kube.get(Paths.group(group, store.namespace, plural), query: selector)["items"]?.arrayValue ?? [] {
                        if (workload.at("spec", "replicas")?.int ?? 1) > 0 || (workload.at("status", "replicas")?.int ?? 0) > 0 {
                            running.append(workload.at("metadata", "name")?.string ?? "?")
                        }
                    }
                }
                // A finished pod (an old setup Job's) neither serves nor counts against the quota.
                let pods = (try await kube.get(Paths.core(store.namespace, "pods"), query: selector)["items"]?.arrayValue ?? [])
                    .filter { !["Succeeded", "Failed"].contains($0.at("status", "phase")?.string ?? "") }
                if running.isEmpty && pods.isEmpty {
                    await context.report("every workload at zero; no pod left")
                    return
                }
                let message = "\(pods.count) pods still stopping" + (running.isEmpty ? "" : " (\(running.sorted().joined(separator: ", ")) not at zero yet)")
                if message != lastMessage {
                    await context.report(message)
                    lastMessage = message
                }
                try await Self.readinessPolls.sleep(after: looks)
            }
        }
    }
}

import Foundation
import Jobs
import KubeClient
import ServiceRuntime

extension Provisioner {
    /// Waits until the namespace is gone; when it takes too long, the error names what blocks it.
    func waitGoneStep() -> StepDefinition {
        StepDefinition("wait-gone", timeout: settings.readinessTimeout, retry: RetryPolicy(maxAttempts: 3, initialDelay: 10, maxDelay: 60)) { context in
            let store = try await self.store(context)
            let started = Date()
            var looks = 0
            while true {
                try context.checkpoint()
                looks += 1
                // Gone, or gone and made again by someone else: either way this store's is no more.
                guard case .ours(let namespace) = try await namespaceOwnership(store) else { return }
                let finalizers = (namespace.at("spec", "finalizers")?.arrayValue ?? []).compactMap(\.string)
                let remaining = try await remainingObjects(store.namespace)
                await context.report("namespace \(store.namespace) is \(namespace.at("status", "phase")?.string ?? "present") for \(Int(Date().timeIntervalSince(started)))s"
                    + (finalizers.isEmpty ? "" : "; finalizers: \(finalizers.joined(separator: ", "))")
                    + (remaining.isEmpty ? "" : "; still inside: \(remaining.joined(separator: ", "))"))
                try await Self.namespaceGonePolls.sleep(after: looks)
            }
        }
    }

    /// A namespace goes once its objects are deleted, often within a second or two.
    static let namespaceGonePolls = PollSchedule(first: 0.25, growth: 1.5, longest: 2)

    private func remainingObjects(_ namespace: String) async throws -> [String] {
        var names: [String] = []
        for (path, kind) in [(Paths.core(namespace, "pods"), "pod"), (Paths.core(namespace, "persistentvolumeclaims"), "pvc")] {
            let items = (try? await kube.get(path)["items"]?.arrayValue) ?? []
            names += items.prefix(3).compactMap { $0.at("metadata", "name")?.string.map { "\(kind)/\($0)" } }
        }
        return names
    }
}


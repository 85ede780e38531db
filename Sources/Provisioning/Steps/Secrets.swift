import Foundation
import Jobs
import KubeClient

extension Provisioner {
    /// Generates the store's credentials (CSPRNG) into Secret `store-credentials`, only when absent: a
    /// retry never rotates a password that a running store already uses.
    func secretsStep() -> StepDefinition {
        StepDefinition("secrets", timeout: 30, retry: RetryPolicy(maxAttempts: 8, initialDelay: 1, maxDelay: 20)) { context in
            let store = try await self.store(context)
            let path = Paths.core(store.namespace, "secrets", "store-credentials")
            do {
                _ = try await kube.get(path)
                context.logger.debug("credentials already exist; keeping them")
                return
            } catch let error as KubeError where error.reason == .notFound {}
            var values: [String: String] = [
                "admin-username": "admin",
                "admin-email": "admin@\(settings.host(for: store.name))",
                "admin-password": Secrets.random(24),
                "database-password": Secrets.random(32),
            ]
            if store.engine == "woocommerce" {
                values["database-root-password"] = Secrets.random(32)
                values["wordpress-salt"] = Secrets.random(64)
            } else {
                values["jwt-secret"] = Secrets.random(48)
                values["cookie-secret"] = Secrets.random(48)
            }
            let secret: JSON = [
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": ["name": "store-credentials", "labels": ["app.kubernetes.io/managed-by": "storefleet", "storefleet.io/store-id": .string(store.id.uuidString.lowercased())]],
                "stringData": .object(values.mapValues { .string($0) }),
            ]
            do {
                try await kube.create(Paths.core(store.namespace, "secrets"), secret)
            } catch let error as KubeError where error.reason == .alreadyExists {
                // Created by an earlier attempt whose answer was lost: keep what is there.
            }
        }
    }
}

enum Secrets {
    /// Letters and digits only, so values are safe in any config file or URL.
    static func random(_ length: Int) -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}

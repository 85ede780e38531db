import Foundation
import Jobs
import KubeClient

/// The last word of readiness: the store's own API lists products. It is asked through the API server's
/// service proxy, so the worker needs no route into store namespaces, and it is the same product query
/// `scripts/store-order.sh` starts an order with.
struct StorefrontCheck: Sendable {
    let kube: KubeClient

    /// What a store answered: products, or why not.
    enum Outcome: Equatable, Sendable {
        case sells(products: Int)
        /// Not yet (no endpoints, the app still starting, the key not written yet): ask again.
        case notYet(String)
        /// The store answers, but lists nothing to sell.
        case empty(String)
    }

    /// The Medusa publishable key lives in the ConfigMap the chart makes and the setup Job fills.
    static let publishableKeyConfigMap = "medusa-publishable-key"

    func check(_ store: StoreRecord) async throws -> Outcome {
        switch store.engine {
        case "woocommerce":
            let path = Self.proxyPath(store.namespace, service: "\(store.release)-web", port: 80, "wp-json/wc/store/v1/products")
            let answer: KubeClient.Response
            do {
                answer = try await kube.send("GET", path, query: [("per_page", "5")], timeout: 20, retries: 0)
            } catch {
                try Self.rethrowIfForbidden(error)
                return .notYet(Self.describe(error, "the WooCommerce Store API"))
            }
            guard let products = answer.json?.arrayValue else {
                return .notYet("the WooCommerce Store API answered something other than a product list: \(Self.excerpt(answer.body))")
            }
            return products.isEmpty ? .empty("the WooCommerce Store API lists no products") : .sells(products: products.count)
        case "medusa":
            let map: JSON
            do {
                map = try await kube.get(Paths.core(store.namespace, "configmaps", Self.publishableKeyConfigMap))
            } catch {
                try Self.rethrowIfForbidden(error)
                return .notYet(Self.describe(error, "the ConfigMap \(Self.publishableKeyConfigMap)"))
            }
            guard let key = map.at("data", "token")?.string, !key.isEmpty else {
                return .notYet("the setup Job has not written the publishable key into ConfigMap \(Self.publishableKeyConfigMap) yet")
            }
            // The ConfigMap is written by code running in the store: nothing from it goes into a request
            // header unless it is a publishable key's shape (no line breaks to smuggle headers with).
            guard Self.isPublishableKey(key) else {
                throw StepFailure.permanent("ConfigMap \(Self.publishableKeyConfigMap) in \(store.namespace) holds no Medusa publishable key (pk_ and up to 200 letters, digits or underscores); the worker will not send it. Look at the setup Job's logs: kubectl -n \(store.namespace) logs -l app.kubernetes.io/component=setup")
            }
            let path = Self.proxyPath(store.namespace, service: "\(store.release)-backend", port: 9000, "store/products")
            let answer: KubeClient.Response
            do {
                answer = try await kube.send("GET", path, query: [("limit", "5")], headers: ["x-publishable-api-key: \(key)"], timeout: 20, retries: 0)
            } catch {
                try Self.rethrowIfForbidden(error)
                return .notYet(Self.describe(error, "the Medusa Store API"))
            }
            guard let products = answer.json?["products"]?.arrayValue else {
                return .notYet("the Medusa Store API answered something other than a product list: \(Self.excerpt(answer.body))")
            }
            return products.isEmpty ? .empty("the Medusa Store API lists no products") : .sells(products: products.count)
        default:
            throw StepFailure.permanent("no storefront check is known for engine \(store.engine)")
        }
    }

    static func isPublishableKey(_ key: String) -> Bool {
        key.hasPrefix("pk_") && key.count <= 203 && key.count > 3
            && key.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_") }
    }

    /// Asking again does not fix RBAC: the worker's role lacks `services/proxy` or `configmaps` get. Only
    /// the API server's own refusal (a `Status`) is RBAC: a 403 the store itself answers (a firewall, a
    /// plugin) comes through the proxy as the store sent it, and is reported as the store's.
    static func rethrowIfForbidden(_ error: KubeError) throws {
        guard error.reason == .forbidden, error.fromAPIServer else { return }
        throw StepFailure.permanent("the worker may not ask the store for products: \(error.message); grant it get on services/proxy and configmaps in store namespaces (charts/platform does), or set STOREFRONT_CHECK=false")
    }

    static func proxyPath(_ namespace: String, service: String, port: Int, _ path: String) -> String {
        "/api/v1/namespaces/\(namespace)/services/\(service):\(port)/proxy/\(path)"
    }

    static func describe(_ error: KubeError, _ what: String) -> String {
        if error.code == 403, !error.fromAPIServer {
            return "\(what) refused the request itself (403 from the store, not from Kubernetes: a firewall or security plugin in the store?): \(error.message.prefix(200))"
        }
        return "\(what) answered \(error.code == 0 ? "nothing" : "\(error.code)"): \(error.message.prefix(200))"
    }

    static func excerpt(_ body: [UInt8]) -> String {
        String(decoding: body.prefix(120), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
    }
}

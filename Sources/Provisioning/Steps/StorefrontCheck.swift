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

    /// Asking again does not fix RBAC: the worker's role lacks `services/proxy` or `configmaps` get.
    static func rethrowIfForbidden(_ error: KubeError) throws {
        guard error.reason == .forbidden else { return }
        throw StepFailure.permanent("the worker may not ask the store for products: \(error.message); grant it get on services/proxy and configmaps in store namespaces (charts/platform does), or set STOREFRONT_CHECK=false")
    }

    static func proxyPath(_ namespace: String, service: String, port: Int, _ path: String) -> String {
        "/api/v1/namespaces/\(namespace)/services/\(service):\(port)/proxy/\(path)"
    }

    static func describe(_ error: KubeError, _ what: String) -> String {
        return "\(what) answered \(error.code == 0 ? "nothing" : "\(error.code)"): \(error.message.prefix(200))"
    }

    static func excerpt(_ body: [UInt8]) -> String {
        String(decoding: body.prefix(120), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
    }
}

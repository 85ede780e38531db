import Foundation
import KubeClient

/// The API server's service proxy (`/api/v1/namespaces/{ns}/services/{name[:port]}/proxy/{path}`),
/// answered the way the store behind the Service would. The answer follows what the cluster holds: no
/// Service is a 404, no ready pod behind it is the API server's 503 "no endpoints available", and the
/// catalog is what the release's setup Job was told to seed (its `STORE_PRODUCTS`), once that Job has
/// succeeded. Medusa's Store API wants the publishable key the setup Job wrote into its ConfigMap.
extension ClusterSimulator {
    static let services = ResourceCatalog.type(group: "", version: "v1", plural: "services")!
    static let configMaps = ResourceCatalog.type(group: "", version: "v1", plural: "configmaps")!
    static let publishableKeyHeader = "x-publishable-api-key"

    /// The service name and the path after `/proxy`, when `segments` address the service proxy.
    static func serviceProxyTarget(_ segments: [String]) -> (namespace: String, service: String, path: String)? {
        guard segments.count >= 7, segments[0] == "api", segments[1] == "v1", segments[2] == "namespaces",
              segments[4] == "services", segments[6] == "proxy" else { return nil }
        // "name", "name:port" or "scheme:name:port", as the API server accepts.
        let parts = segments[5].split(separator: ":").map(String.init)
        let service = parts.count == 3 ? parts[1] : parts[0]
        return (segments[3], service, "/" + segments.dropFirst(7).joined(separator: "/"))
    }

    func serviceProxy(method: String, namespace: String, service: String, path: String, query: [String: String], publishableKey: String?) -> Reply {
        let serviceObject: JSON
        do {
            serviceObject = try store.get(Self.services, namespace: namespace, name: service)
        } catch {
            return Reply(status: error.code, body: error.status)
        }
        let selector = serviceObject.at("spec", "selector")?.objectValue ?? [:]
        let endpoints = store.all(Controllers.pods).filter { key, pod in
            guard key.namespace == namespace, !selector.isEmpty else { return false }
            let labels = pod.at("metadata", "labels")?.objectValue ?? [:]
            let ready = (pod.at("status", "conditions")?.arrayValue ?? []).contains { $0["type"]?.string == "Ready" && $0["status"]?.string == "True" }
            return ready && selector.allSatisfy { labels[$0.key] == $0.value }
        }
        guard !endpoints.isEmpty else {
            return Reply(status: 503, body: APIError(code: 503, reason: "ServiceUnavailable",
                                                     message: "no endpoints available for service \"\(service)\"", details: nil).status)
        }
        guard method == "GET" else { return Reply(status: 405, body: ["message": "Method Not Allowed"]) }
        if faults.withLock({ $0.storefrontForbidden(namespace: namespace) }) {
            // The store's own answer, passed through unchanged: not a Kubernetes Status.
            return Reply(status: 403, body: "<html><body><h1>403 Forbidden</h1>Request blocked by the site's firewall.</body></html>")
        }
        if faults.withLock({ $0.storefrontError(namespace: namespace) }) {
            return Reply(status: 500, body: "<html><body><h1>There has been a critical error on this website.</h1></body></html>")
        }
        let catalog = faults.withLock { $0.emptyCatalog(namespace: namespace) } ? [] : seededProducts(namespace: namespace)
        switch path {
        case "/wp-json/wc/store/v1/products", "/wp-json/wc/store/v1/products/":
            let perPage = Int(query["per_page"] ?? "") ?? 10
            return Reply(status: 200, body: .array(catalog.prefix(max(perPage, 0)).enumerated().map { index, product in
                [
                    "id": .number(Double(index + 10)), "name": product["name"] ?? "", "sku": product["sku"] ?? "",
                    "prices": ["price": .string(Self.minorUnits(product["price"]?.string)), "currency_code": "USD", "currency_minor_unit": 2],
                    "is_in_stock": true, "is_purchasable": true,
                ]
            }))
        case "/store/products", "/store/products/":
            let keys = store.all(Self.configMaps).filter { $0.0.namespace == namespace }.compactMap { $0.1.at("data", "token")?.string }
            guard let publishableKey, !publishableKey.isEmpty else {
                return Reply(status: 400, body: ["type": "not_allowed", "message": "Publishable API key required in the request header: x-publishable-api-key. You can manage your keys in settings in the dashboard."])
            }
            guard keys.contains(publishableKey) else {
                return Reply(status: 400, body: ["type": "not_allowed", "message": "A valid publishable key is required to proceed with the request"])
            }
            let limit = Int(query["limit"] ?? "") ?? 50
            let products: [JSON] = catalog.prefix(max(limit, 0)).enumerated().map { index, product in
                [
                    "id": .string("prod_sim\(index)"), "title": product["name"] ?? product["title"] ?? "",
                    "handle": product["sku"] ?? product["handle"] ?? "", "status": "published",
                ]
            }
            return Reply(status: 200, body: ["products": .array(products), "count": .number(Double(catalog.count)), "offset": 0, "limit": .number(Double(limit))])
        default:
            return Reply(status: 404, body: ["code": "rest_no_route", "message": "No route was found matching the URL and request method."])
        }
    }

    /// The products the namespace's setup Job seeded: its `STORE_PRODUCTS`, once it has succeeded.
    func seededProducts(namespace: String) -> [JSON] {
        let setups = store.all(Controllers.jobs).filter { key, job in
            key.namespace == namespace && (job.at("status", "succeeded")?.int ?? 0) >= 1
                && job.at("metadata", "labels", "app.kubernetes.io/component")?.string == "setup"
        }
        for (_, job) in setups {
            for container in job.at("spec", "template", "spec", "containers")?.arrayValue ?? [] {
                for variable in container["env"]?.arrayValue ?? [] where variable["name"]?.string == "STORE_PRODUCTS" {
                    if let text = variable["value"]?.string, let products = try? JSON(parsing: Data(text.utf8)).arrayValue {
                        return products
                    }
                }
            }
        }
        return []
    }

    /// WooCommerce's Store API gives prices in minor units as strings ("19.00" → "1900").
    static func minorUnits(_ price: String?) -> String {
        guard let price, let value = Double(price) else { return "0" }
        return String(Int((value * 100).rounded()))
    }
}

extension Controllers {
    static let configMaps = ResourceCatalog.type(group: "", version: "v1", plural: "configmaps")!

    /// What the Medusa setup Job does at its end: write a publishable key into the ConfigMap the chart
    /// made for it (the setup component's ConfigMap), unless one is there already.
    /// Every setup ConfigMap still without a key gets one once its namespace's setup Job has succeeded,
    /// whichever of the two was created first.
    func publishKeys() {
        let waiting = store.all(Self.configMaps).filter { _, map in
            map.at("metadata", "labels", "app.kubernetes.io/component")?.string == "setup" && map.at("data", "token") == nil
        }
        guard !waiting.isEmpty else { return }
        let done = Set(store.all(Self.jobs).compactMap { key, job -> String? in
            job.at("metadata", "labels", "app.kubernetes.io/component")?.string == "setup"
                && (job.at("status", "succeeded")?.int ?? 0) >= 1 ? key.namespace : nil
        })
        for (mapKey, _) in waiting where done.contains(mapKey.namespace ?? "") {
            let token = "pk_sim_" + (0..<24).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
            store.updateStatus(mapKey) { object in object.set(["data", "token"], to: .string(token)) }
        }
    }
}

import Foundation
import ServiceRuntime
import Yams

/// A store's share of the cluster: its namespace's ResourceQuota and LimitRange. Defaults fit the store
/// charts' defaults with room for one extra setup pod during an upgrade (charts/README.md has the table).
public struct PlanQuota: Sendable, Equatable {
    public var requestsCPU: String
    public var requestsMemory: String
    public var limitsCPU: String
    public var limitsMemory: String
    public var pods: Int
    public var persistentVolumeClaims: Int
    public var storage: String
    public var maxVolumeSize: String
    public var defaultRequestCPU = "100m"
    public var defaultRequestMemory = "128Mi"
    public var defaultLimitCPU = "500m"
    public var defaultLimitMemory = "512Mi"

    public init(requestsCPU: String, requestsMemory: String, limitsCPU: String, limitsMemory: String, pods: Int,
                persistentVolumeClaims: Int, storage: String, maxVolumeSize: String) {
        (self.requestsCPU, self.requestsMemory, self.limitsCPU, self.limitsMemory) = (requestsCPU, requestsMemory, limitsCPU, limitsMemory)
        (self.pods, self.persistentVolumeClaims, self.storage, self.maxVolumeSize) = (pods, persistentVolumeClaims, storage, maxVolumeSize)
    }

    /// The keys a quota takes, in a plans file or a setting such as `WOOCOMMERCE_QUOTA="limits.cpu=8,pods=10"`.
    public static let keys = [
        "requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "pods", "pvcs", "storage", "max-volume",
        "default-request.cpu", "default-request.memory", "default-limit.cpu", "default-limit.memory",
    ]

    /// Applies `key=value,...` pairs; `variable` names where they came from in the error.
    public mutating func override(with text: String, variable: String) throws(ConfigurationError) {
        var pairs: [(String, String)] = []
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[1].isEmpty else {
                throw ConfigurationError(variable: variable, problem: "expected key=value pairs separated by commas, got \(pair)")
            }
            pairs.append((parts[0], parts[1]))
        }
        try override(with: pairs, variable: variable)
    }

    public mutating func override(with pairs: [(String, String)], variable: String) throws(ConfigurationError) {
        for (key, value) in pairs {
            let isCount = key == "pods" || key == "pvcs"
            guard Self.keys.contains(key) else {
                throw ConfigurationError(variable: variable, problem: "unknown key \(key) (known: \(Self.keys.joined(separator: ", ")))")
            }
            guard isCount ? Int(value).map({ $0 >= 0 }) == true : Self.isQuantity(value) else {
                throw ConfigurationError(variable: variable, problem: "\(key)=\(value) is not a \(isCount ? "count" : "Kubernetes quantity such as 500m or 2Gi")")
            }
            switch key {
            case "requests.cpu": requestsCPU = value
            case "requests.memory": requestsMemory = value
            case "limits.cpu": limitsCPU = value
            case "limits.memory": limitsMemory = value
            case "pods": pods = Int(value)!
            case "pvcs": persistentVolumeClaims = Int(value)!
            case "storage": storage = value
            case "max-volume": maxVolumeSize = value
            case "default-request.cpu": defaultRequestCPU = value
            case "default-request.memory": defaultRequestMemory = value
            case "default-limit.cpu": defaultLimitCPU = value
            default: defaultLimitMemory = value
            }
        }
    }

    /// A Kubernetes resource quantity: a decimal number with an optional SI or binary suffix.
    public static func isQuantity(_ text: String) -> Bool {
        let suffixes = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "m", "k", "M", "G", "T", "P", "E", ""]
        guard let suffix = suffixes.first(where: { text.hasSuffix($0) }) else { return false }
        let number = text.dropLast(suffix.count)
        return !number.isEmpty && Double(number).map { $0 >= 0 } == true && number.allSatisfy { $0.isNumber || $0 == "." }
    }
}

/// What a plan gives a store of one engine: its guardrails and the chart values that size its workloads.
public struct EnginePlan: Sendable, Equatable {
    public var quota: PlanQuota
    /// Chart values (as JSON text) handed to helm before the worker's own, which always win: a plan
    /// sizes workloads, it never names, exposes or places a store.
    public var valuesJSON: String
}

/// A named size of store (`small`, `medium`, `large`...): per engine, what it is given.
public struct Plan: Sendable, Equatable {
    public var name: String
    public var description: String
    public var engines: [String: EnginePlan]
}

/// The plans the platform offers, from `PLANS_FILE` or built in. The gateway reads it to refuse a plan
/// that does not exist or does not offer an engine; the worker, to size the store. Both must read the
/// same file (the platform chart mounts one ConfigMap into both).
public struct PlanCatalog: Sendable, Equatable {
    public var plans: [String: Plan]
    /// The plan a store gets when its create names none.
    public var defaultPlan: String

    public static let engines = ["woocommerce", "medusa"]
    /// Chart values only the worker sets.
    static let reservedValues: Set<String> = ["store", "ingress", "global"]

    /// The stores made before plans existed had these guardrails; they are `small`.
    public static let builtInSmall: [String: PlanQuota] = [
        "woocommerce": PlanQuota(requestsCPU: "1", requestsMemory: "2Gi", limitsCPU: "4", limitsMemory: "4Gi", pods: 6,
                                 persistentVolumeClaims: 3, storage: "10Gi", maxVolumeSize: "5Gi"),
        "medusa": PlanQuota(requestsCPU: "1500m", requestsMemory: "3Gi", limitsCPU: "5", limitsMemory: "6Gi", pods: 8,
                            persistentVolumeClaims: 2, storage: "10Gi", maxVolumeSize: "5Gi"),
    ]

    /// `small` (the guardrails every store had before plans), `medium` and `large` (twice and four
    /// times its quota, with the web tier's limits raised to match).
    public static func builtIn() -> PlanCatalog {
        func scaled(_ quota: PlanQuota, _ factor: Int) -> PlanQuota {
            var quota = quota
            quota.requestsCPU = multiply(quota.requestsCPU, factor)
            quota.requestsMemory = multiply(quota.requestsMemory, factor)
            quota.limitsCPU = multiply(quota.limitsCPU, factor)
            quota.limitsMemory = multiply(quota.limitsMemory, factor)
            quota.storage = multiply(quota.storage, factor)
            quota.maxVolumeSize = multiply(quota.maxVolumeSize, factor)
            return quota
        }
        // The tier that serves shoppers grows with the plan (large Medusa stores run two storefront
        // pods); the database keeps the chart's defaults. WooCommerce's web tier stays one pod: its
        // wp-content is one ReadWriteOnce volume.
        let values: [String: [Int: String]] = [
            "woocommerce": [
                2: #"{"web":{"resources":{"limits":{"cpu":"2","memory":"1Gi"},"requests":{"cpu":"250m","memory":"512Mi"}}}}"#,
                4: #"{"web":{"resources":{"limits":{"cpu":"4","memory":"2Gi"},"requests":{"cpu":"500m","memory":"1Gi"}}}}"#,
            ],
            "medusa": [
                2: #"{"backend":{"resources":{"limits":{"cpu":"2","memory":"1536Mi"},"requests":{"cpu":"500m","memory":"768Mi"}}}}"#,
                4: #"{"backend":{"resources":{"limits":{"cpu":"4","memory":"3Gi"},"requests":{"cpu":"1","memory":"1536Mi"}}},"storefront":{"replicas":2}}"#,
            ],
        ]
        var plans: [String: Plan] = [:]
        for (name, factor, description) in [("small", 1, "one small shop: the default"), ("medium", 2, "twice small's share"), ("large", 4, "four times small's share")] {
            var engines: [String: EnginePlan] = [:]
            for (engine, quota) in builtInSmall {
                engines[engine] = EnginePlan(quota: scaled(quota, factor), valuesJSON: values[engine]?[factor] ?? "{}")
            }
            plans[name] = Plan(name: name, description: description, engines: engines)
        }
        return PlanCatalog(plans: plans, defaultPlan: "small")
    }

    /// `2Gi` × 2 = `4Gi`, `1500m` × 2 = `3000m`; a quantity with a fraction keeps it (`1.5` × 2 = `3`).
    static func multiply(_ quantity: String, _ factor: Int) -> String {
        let digits = quantity.prefix { $0.isNumber || $0 == "." }
        guard let value = Double(digits) else { return quantity }
        let product = value * Double(factor)
        let number = product == product.rounded() ? String(Int(product)) : String(product)
        return number + quantity.dropFirst(digits.count)
    }

    public init(plans: [String: Plan], defaultPlan: String) {
        self.plans = plans
        self.defaultPlan = defaultPlan
    }

    /// The catalog from the environment: `PLANS_FILE` (YAML or JSON, docs/configuration.md) when set,
    /// else the built-in plans, whose `small` takes `WOOCOMMERCE_QUOTA`/`MEDUSA_QUOTA` (the settings
    /// that sized every store before plans existed).
    public static func load(from reader: ConfigurationReader) throws(ConfigurationError) -> PlanCatalog {
        let overrides = [("woocommerce", "WOOCOMMERCE_QUOTA"), ("medusa", "MEDUSA_QUOTA")].filter { reader.raw($0.1).map { !$0.isEmpty } ?? false }
        guard let path = reader.raw("PLANS_FILE"), !path.isEmpty else {
            var catalog = builtIn()
            for (engine, variable) in overrides {
                try catalog.plans["small"]!.engines[engine]!.quota.override(with: reader.raw(variable)!, variable: variable)
            }
            return catalog
        }
        if let (_, variable) = overrides.first {
            throw ConfigurationError(variable: variable, problem: "is not read when PLANS_FILE is set; give each plan its quota in \(path)")
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(variable: "PLANS_FILE", problem: "cannot read \(path): \(error.localizedDescription)")
        }
        return try parse(text, source: path)
    }

    /// Parses a plans file:
    /// ```yaml
    /// default: small
    /// plans:
    ///   small:
    ///     description: one small shop
    ///     woocommerce:
    ///       quota: {requests.cpu: "1", limits.memory: 4Gi}   # over the built-in small quota
    ///       values: {web: {resources: {limits: {cpu: "1"}}}}  # chart values
    ///     medusa: {}                                          # offered, with the built-in quota
    /// ```
    /// A plan offers the engines it names, no others.
    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> PlanCatalog {
        func fail(_ problem: String) -> ConfigurationError { ConfigurationError(variable: "PLANS_FILE", problem: "\(source): \(problem)") }
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { throw fail("is not valid YAML: \(error)") }
        guard let document = root as? [String: Any] else { throw fail("must be a mapping with `plans` and `default`") }
        for key in document.keys where !["plans", "default"].contains(key) { throw fail("unknown key \(key) (known: plans, default)") }
        guard let plansNode = document["plans"] as? [String: Any], !plansNode.isEmpty else { throw fail("`plans` must map plan names to plans") }
        var plans: [String: Plan] = [:]
        for (name, node) in plansNode {
            guard isPlanName(name) else { throw fail("plan name \(name) must be 1 to 40 lowercase letters, digits and '-', starting with a letter") }
            guard let planNode = node as? [String: Any] else { throw fail("plan \(name) must be a mapping") }
            var plan = Plan(name: name, description: "", engines: [:])
            for (key, value) in planNode {
                if key == "description" {
                    guard let text = value as? String else { throw fail("plan \(name): description must be text") }
                    plan.description = text
                    continue
                }
                guard let base = builtInSmall[key] else { throw fail("plan \(name): unknown key \(key) (known: description, \(engines.joined(separator: ", ")))") }
                let engineNode = value as? [String: Any] ?? [:]
                guard value is [String: Any] || value is NSNull else { throw fail("plan \(name).\(key) must be a mapping") }
                for field in engineNode.keys where !["quota", "values"].contains(field) {
                    throw fail("plan \(name).\(key): unknown key \(field) (known: quota, values)")
                }
                var quota = base
                if let quotaNode = engineNode["quota"] {
                    guard let pairs = quotaNode as? [String: Any] else { throw fail("plan \(name).\(key).quota must be a mapping") }
                    try quota.override(with: pairs.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }, variable: "PLANS_FILE (\(source), plan \(name).\(key).quota)")
                }
                var valuesJSON = "{}"
                if let valuesNode = engineNode["values"] {
                    guard let values = valuesNode as? [String: Any] else { throw fail("plan \(name).\(key).values must be a mapping of chart values") }
                    if let reserved = values.keys.first(where: reservedValues.contains) {
                        throw fail("plan \(name).\(key).values may not set \(reserved): the worker sets \(reservedValues.sorted().joined(separator: ", "))")
                    }
                    do {
                        valuesJSON = String(decoding: try JSONSerialization.data(withJSONObject: values, options: [.sortedKeys]), as: UTF8.self)
                    } catch {
                        throw fail("plan \(name).\(key).values cannot be written as JSON: \(error)")
                    }
                }
                plan.engines[key] = EnginePlan(quota: quota, valuesJSON: valuesJSON)
            }
            guard !plan.engines.isEmpty else { throw fail("plan \(name) offers no engine; name at least one of \(engines.joined(separator: ", "))") }
            plans[name] = plan
        }
        guard let defaultPlan = document["default"] as? String else { throw fail("`default` must name the plan a store gets when none is asked for") }
        guard plans[defaultPlan] != nil else { throw fail("the default plan \(defaultPlan) is not among the plans (\(plans.keys.sorted().joined(separator: ", ")))") }
        return PlanCatalog(plans: plans, defaultPlan: defaultPlan)
    }

    public static func isPlanName(_ name: String) -> Bool {
        guard (1...40).contains(name.count), let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// Why `plan` cannot hold a store of `engine` for a tenant allowed `allowed` (nil: every plan), or nil.
    public func refusal(plan: String, engine: String, allowed: [String]?) -> String? {
        guard let found = plans[plan] else { return "must be one of \(plans.keys.sorted().joined(separator: ", "))" }
        guard found.engines[engine] != nil else {
            return "does not offer \(engine); plans that do: \(plans.values.filter { $0.engines[engine] != nil }.map(\.name).sorted().joined(separator: ", "))"
        }
        if let allowed, !allowed.contains(plan) {
            return allowed.isEmpty ? "is not allowed: this tenant may use no plan; ask an administrator"
                : "is not allowed for this tenant; it may use \(allowed.sorted().joined(separator: ", "))"
        }
        return nil
    }
}

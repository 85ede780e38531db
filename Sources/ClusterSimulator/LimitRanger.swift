import KubeClient

/// The LimitRanger admission plugin for containers, as it treats a pod: first the defaults of the
/// namespace's `Container` items fill in what a container leaves out, then their `min` and `max` are
/// enforced, in the plugin's words. The simulator's controllers make the pods, so a refusal shows as
/// a workload's `FailedCreate` event (`pods "web-" is forbidden: maximum cpu usage per Container is 1,
/// but limit is 2`), as a ReplicaSet's refused pod creation does on a real cluster.
enum LimitRanger {
    /// One `Container` item of a LimitRange with the API server's own defaulting applied: `default`
    /// falls back to `max`, and `defaultRequest` to `default`, then to `min`.
    struct Item {
        var min: [String: String] = [:]
        var max: [String: String] = [:]
        var defaultLimit: [String: String] = [:]
        var defaultRequest: [String: String] = [:]

        init(_ item: JSON) {
            func values(_ field: String) -> [String: String] {
                (item[field]?.objectValue ?? [:]).compactMapValues { $0.string ?? $0.int.map(String.init) }
            }
            min = values("min")
            max = values("max")
            defaultLimit = values("default").merging(max) { own, _ in own }
            defaultRequest = values("defaultRequest").merging(defaultLimit) { own, _ in own }.merging(min) { own, _ in own }
        }
    }

    static func items(_ limitRanges: [JSON]) -> [Item] {
        limitRanges.flatMap { ($0.at("spec", "limits")?.arrayValue ?? []).filter { $0["type"]?.string == "Container" }.map(Item.init) }
    }

    /// A container's requests and limits as admitted: its own, a request taken from its own limit when
    /// it names none (the API's pod defaulting, which runs first), then the LimitRange defaults.
    static func resources(_ container: JSON, items: [Item]) -> (requests: [String: String], limits: [String: String]) {
        func own(_ section: String) -> [String: String] {
            (container.at("resources", section)?.objectValue ?? [:]).compactMapValues { $0.string ?? $0.int.map(String.init) }
        }
        var limits = own("limits")
        var requests = own("requests").merging(limits) { own, _ in own }
        for item in items {
            limits.merge(item.defaultLimit) { own, _ in own }
            requests.merge(item.defaultRequest) { own, _ in own }
        }
        return (requests, limits)
    }

    /// The plugin's refusal of a pod with this spec, or nil: one message, or several in brackets.
    static func refusal(podSpec: JSON, limitRanges: [JSON]) -> String? {
        let items = items(limitRanges)
        guard !items.isEmpty else { return nil }
        var problems: [String] = []
        let containers = (podSpec["initContainers"]?.arrayValue ?? []) + (podSpec["containers"]?.arrayValue ?? [])
        for container in containers {
            let (requests, limits) = resources(container, items: items)
            for item in items {
                for (resource, enforced) in item.min.sorted(by: { $0.key < $1.key }) {
                    guard let floor = Quantity.parse(enforced) else { continue }
                    guard let request = requests[resource] else {
                        problems.append("minimum \(resource) usage per Container is \(enforced).  No request is specified")
                        continue
                    }
                    if let value = Quantity.parse(request), value < floor {
                        problems.append("minimum \(resource) usage per Container is \(enforced), but request is \(request)")
                    } else if let limit = limits[resource], let value = Quantity.parse(limit), value < floor {
                        problems.append("minimum \(resource) usage per Container is \(enforced), but limit is \(limit)")
                    }
                }
                for (resource, enforced) in item.max.sorted(by: { $0.key < $1.key }) {
                    guard let ceiling = Quantity.parse(enforced) else { continue }
                    guard let limit = limits[resource] else {
                        problems.append("maximum \(resource) usage per Container is \(enforced).  No limit is specified")
                        continue
                    }
                    if let value = Quantity.parse(limit), value > ceiling {
                        problems.append("maximum \(resource) usage per Container is \(enforced), but limit is \(limit)")
                    } else if let request = requests[resource], let value = Quantity.parse(request), value > ceiling {
                        problems.append("maximum \(resource) usage per Container is \(enforced), but request is \(request)")
                    }
                }
            }
        }
        switch problems.count {
        case 0: return nil
        case 1: return problems[0]
        default: return "[" + problems.joined(separator: ", ") + "]"
        }
    }
}

import Foundation
import KubeClient

/// The columns each resource shows in a table, and what `-o name` prints for it.
public enum Presentations {
    static func text(_ value: JSON?) -> String {
        switch value {
        case .string(let text)?: text
        case .number(let number)?: number.rounded() == number ? String(Int64(number)) : String(number)
        case .bool(let flag)?: flag ? "true" : "false"
        default: "-"
        }
    }

    public static func stores(tenantNames: [String: String]? = nil) -> Presentation {
        Presentation(
            headers: ["NAME", "ENGINE", "STATUS"] + (tenantNames == nil ? [] : ["TENANT"]) + ["AGE", "ID"],
            row: { store in
                var row = [text(store["name"]), text(store["engine"]), text(store["status"])]
                if let tenantNames {
                    let id = text(store["tenant_id"])
                    row.append(tenantNames[id] ?? String(id.prefix(8)))
                }
                return row + [Humanize.age(store["created_at"]?.string), text(store["id"])]
            },
            name: { text($0["name"]) }
        )
    }

    public static let revisions = Presentation(
        headers: ["REVISION", "PLAN", "APP", "CHART", "OUTCOME", "AGE", "REASON"],
        row: { revision in
            [text(revision["revision"]), text(revision.at("spec", "plan")), revision.at("spec", "app_version")?.string ?? "default",
             revision.at("spec", "chart_version")?.string ?? "default", text(revision["outcome"]), Humanize.age(revision["created_at"]?.string),
             revision["reason"]?.string ?? ""]
        },
        name: { text($0["revision"]) }
    )

    public static let plans = Presentation(
        headers: ["NAME", "DEFAULT", "ALLOWED", "ENGINES", "DESCRIPTION"],
        row: { plan in
            [text(plan["name"]), plan["is_default"] == .bool(true) ? "*" : "", text(plan["allowed"]),
             (plan["engines"]?.objectValue?.keys.sorted() ?? []).joined(separator: ","), text(plan["description"])]
        },
        name: { text($0["name"]) }
    )

    public static let rollouts = Presentation(
        headers: ["ID", "STATUS", "TARGET", "STORES", "DONE", "FAILED", "AGE"],
        row: { rollout in
            let counts = rollout["counts"]?.objectValue ?? [:]
            func count(_ keys: [String]) -> Int { keys.reduce(0) { $0 + (counts[$1].flatMap { if case .number(let n) = $0 { Int(n) } else { nil } } ?? 0) } }
            return [text(rollout["id"]), text(rollout["status"]), targetText(rollout["target"]), text(rollout["stores"]),
                    String(count(["updated", "unchanged"])), String(count(["rolled-back", "failed"])), Humanize.age(rollout["created_at"]?.string)]
        },
        name: { text($0["id"]) }
    )

    static func targetText(_ target: JSON?) -> String {
        [target?["app_version"]?.string.map { "app \($0)" }, target?["chart_version"]?.string.map { "chart \($0)" }].compactMap { $0 }.joined(separator: ", ")
    }

    /// One rollout in detail: its status line, a table of waves and the stores that did not take it.
    public static func rolloutDetail(_ rollout: JSON, width: Int?) -> String {
        var out = "rollout \(text(rollout["id"])): \(text(rollout["status"])), \(targetText(rollout["target"])), \(text(rollout["stores"])) stores"
        if let reason = rollout["reason"]?.string { out += "\n\(reason)" }
        let statuses = ["updated", "unchanged", "updating", "pending", "rolled-back", "failed", "skipped"]
        let rows = (rollout["waves"]?.arrayValue ?? []).map { wave -> [String] in
            let counts = wave["counts"]?.objectValue ?? [:]
            return [text(wave["wave"]) + (wave["canary"] == .bool(true) ? " (canary)" : ""), text(wave["status"]), text(wave["stores"])]
                + statuses.map { counts[$0].map { text($0) } ?? "0" }
        }
        out += "\n" + Table(headers: ["WAVE", "STATUS", "STORES"] + statuses.map { $0.uppercased() }, rows: rows).render(width: width)
        let failed = (rollout["failed_stores"]?.arrayValue ?? []).map { [text($0["name"]), text($0["wave"]), text($0["status"]), $0["message"]?.string ?? ""] }
        if !failed.isEmpty {
            out += "\n" + Table(headers: ["STORE", "WAVE", "STATUS", "WHY"], rows: failed).render(width: width)
        }
        return out
    }

    public static let jobs = Presentation(
        headers: ["ID", "KIND", "STATUS", "PROGRESS", "AGE", "STEP"],
        row: { job in
            let progress = job["progress"].flatMap { if case .number(let n) = $0 { n } else { nil } } ?? 0
            let steps = job["steps"]?.arrayValue ?? []
            let current = steps.first { ["running", "retrying", "failed"].contains($0["status"]?.string ?? "") }
            return [text(job["id"]), text(job["kind"]), text(job["status"]), "\(Int((progress * 100).rounded()))%",
                    Humanize.age(job["created_at"]?.string), current.map { text($0["name"]) } ?? "-"]
        },
        name: { text($0["id"]) }
    )

    public static let tenants = Presentation(
        headers: ["NAME", "ROLE", "STORE LIMIT", "PLANS", "AGE", "ID"],
        row: { [text($0["name"]), text($0["role"]), text($0["store_limit"]), $0["allowed_plans"]?.arrayValue.map { $0.map { text($0) }.joined(separator: ",") } ?? "all",
                Humanize.age($0["created_at"]?.string), text($0["id"])] },
        name: { text($0["name"]) }
    )

    public static let tokens = Presentation(
        headers: ["NAME", "PREFIX", "STATE", "AGE", "LAST USED", "EXPIRES", "ID"],
        row: { token in
            [text(token["name"]), text(token["prefix"]), text(token["state"]), Humanize.age(token["created_at"]?.string),
             token["last_used_at"]?.string.map { Humanize.age($0) + " ago" } ?? "never",
             token["expires_at"]?.string ?? "never", text(token["id"])]
        },
        name: { text($0["id"]) }
    )

    public static let contexts = Presentation(
        headers: ["CURRENT", "NAME", "SERVER"],
        row: { [text($0["current"]) == "true" ? "*" : "", text($0["name"]), text($0["server"])] },
        name: { text($0["name"]) }
    )

    /// One store in detail, for `stores get` as a table.
    public static func storeDetail(_ store: JSON) -> String {
        var lines: [(String, String)] = [
            ("Name", text(store["name"])), ("ID", text(store["id"])), ("Engine", text(store["engine"])),
            ("Status", text(store["status"])), ("Namespace", text(store["namespace"])),
            ("Plan", text(store["plan"])), ("Revision", text(store["revision"])),
            ("App version", store["app_version"]?.string ?? "the chart's default"),
            ("Chart version", store["chart_version"]?.string ?? "the worker's chart"),
            ("Storefront", text(store.at("urls", "storefront"))), ("Admin", text(store.at("urls", "admin"))),
            ("Created", text(store["created_at"])), ("Updated", text(store["updated_at"])),
        ]
        if let by = store["suspended_by"]?.string {
            lines.append(("Suspended", "by \(by == "admin" ? "an administrator" : "its tenant")" + (store["suspension_reason"]?.string.map { ": \($0)" } ?? "")))
        }
        if let job = store["latest_job"], job != .null {
            lines.append(("Latest job", "\(text(job["kind"])) \(text(job["status"])) (\(text(job["id"])))"))
        }
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { "\(($0.0 + ":").padding(toLength: width + 1, withPad: " ", startingAt: 0)) \($0.1)" }.joined(separator: "\n")
    }

    /// One job in detail: its status line and a table of steps.
    public static func jobDetail(_ job: JSON, width: Int?) -> String {
        let header = "\(text(job["kind"])) \(text(job["id"])): \(text(job["status"]))"
        let steps = (job["steps"]?.arrayValue ?? []).map { step -> [String] in
            let duration = step["duration_ms"].flatMap { if case .number(let n) = $0 { Humanize.duration(n / 1000) } else { nil } } ?? "-"
            return [text(step["name"]), text(step["status"]), text(step["attempts"]), duration, step["message"]?.string ?? ""]
        }
        return header + "\n" + Table(headers: ["STEP", "STATUS", "ATTEMPTS", "DURATION", "MESSAGE"], rows: steps).render(width: width)
    }
}

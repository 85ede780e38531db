import Foundation
import Jobs
import Platform
import Postgres

/// The store rules the API enforces before anything is written.
enum StoreRules {
    static let engines = ["woocommerce", "medusa"]
    static let statuses = ["provisioning", "ready", "updating", "suspending", "suspended", "resuming", "failed", "deleting", "deleted"]
    /// Names that would collide with the platform's own hosts or confuse users.
    static let reserved: Set<String> = [
        "admin", "api", "www", "dashboard", "platform", "app", "mail", "smtp", "ftp", "static", "assets", "cdn",
        "status", "metrics", "grafana", "prometheus", "auth", "login", "storefleet", "kube-system", "default", "system",
    ]

    /// A DNS-1123 label of 3 to 40 characters that starts with a letter (the namespace `store-<name>` and
    /// the host `<name>.<domain>` must both be valid).
    static func nameProblem(_ name: String) -> String? {
        guard (3...40).contains(name.count) else { return "must be 3 to 40 characters" }
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return "must start with a lowercase letter" }
        guard name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else {
            return "may contain only lowercase letters, digits and '-'"
        }
        guard !name.hasSuffix("-") else { return "must not end with '-'" }
        guard !reserved.contains(name) else { return "is reserved" }
        return nil
    }

    static func adminPath(engine: String) -> String { engine == "medusa" ? "/app" : "/wp-admin/" }
}

/// A store as the API shows it.
struct StoreView: Codable, Sendable {
    struct URLs: Codable, Sendable {
        var storefront: String
        var admin: String
    }

    var id: String
    var tenantId: String
    var name: String
    var engine: String
    var status: String
    var namespace: String
    /// The live spec: the last revision applied (during an update, the one still serving).
    var plan: String
    var chartVersion: String?
    var appVersion: String?
    var revision: Int
    /// Set while the store is suspended (or being suspended): by `tenant` or `admin`, when and why.
    var suspendedBy: String?
    var suspendedAt: Date?
    var suspensionReason: String?
    var urls: URLs
    var lastError: String?
    var createdAt: Date
    var updatedAt: Date
    var deletedAt: Date?
    var latestJob: JobView?

    init(row: PostgresRow, settings: APISettings) throws {
        id = try row.decode("id", as: UUID.self).lower
        tenantId = try row.decode("tenant_id", as: UUID.self).lower
        name = try row.decode("name")
        engine = try row.decode("engine")
        status = try row.decode("status")
        namespace = try row.decode("namespace")
        plan = try row.decode("plan")
        chartVersion = try row.decode("chart_version")
        appVersion = try row.decode("app_version")
        revision = try row.decode("revision")
        suspendedBy = try row.decode("suspended_by")
        suspendedAt = try row.decode("suspended_at")
        suspensionReason = try row.decode("suspension_reason")
        lastError = try row.decode("last_error")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        deletedAt = try row.decode("deleted_at")
        // The worker records the real URLs at `finalize`; until then, show the ones configuration implies.
        let expected = Self.expectedURLs(name: name, engine: engine, settings: settings)
        urls = URLs(
            storefront: try row.decode("storefront_url", as: String?.self) ?? expected.storefront,
            admin: try row.decode("admin_url", as: String?.self) ?? expected.admin
        )
    }

    static func expectedURLs(name: String, engine: String, settings: APISettings) -> URLs {
        let base = "\(settings.storeTLS ? "https" : "http")://\(name).\(settings.storeDomain)"
        return URLs(storefront: base + "/", admin: base + StoreRules.adminPath(engine: engine))
    }
}

/// A job as the API shows it: the engine's snapshot plus its progress.
struct JobView: Codable, Sendable {
    var id: String
    var kind: String
    var storeId: String?
    var status: JobStatus
    var currentStep: Int
    var progress: Double
    var cancelRequested: Bool
    var error: String?
    var createdAt: Date
    var startedAt: Date?
    var finishedAt: Date?
    var updatedAt: Date
    var steps: [StepSnapshot]
    var transitions: [TransitionSnapshot]?

    init(_ job: JobSnapshot) {
        id = job.id.lower
        kind = job.kind
        storeId = job.storeID?.lower
        status = job.status
        currentStep = job.currentStep
        progress = job.progress
        cancelRequested = job.cancelRequested
        error = job.error
        createdAt = job.createdAt
        startedAt = job.startedAt
        finishedAt = job.finishedAt
        updatedAt = job.updatedAt
        steps = job.steps
        transitions = job.transitions
    }
}

/// A line of a store's job list.
struct JobSummary: Codable, Sendable {
    var id: String
    var kind: String
    var status: String
    var currentStep: Int
    var error: String?
    var createdAt: Date
    var startedAt: Date?
    var finishedAt: Date?

    init(row: PostgresRow) throws {
        id = try row.decode("id", as: UUID.self).lower
        kind = try row.decode("kind")
        status = try row.decode("status")
        currentStep = try row.decode("current_step")
        error = try row.decode("error")
        createdAt = try row.decode("created_at")
        startedAt = try row.decode("started_at")
        finishedAt = try row.decode("finished_at")
    }
}

struct Page<Item: Codable & Sendable>: Codable, Sendable {
    var items: [Item]
    var nextCursor: String?
}

/// A revision as the API shows it: the spec asked for, what it replaced, who asked, the job that
/// applied it and how that ended (`rolling-back` while its job restores the previous revision).
struct RevisionView: Codable, Sendable {
    struct Spec: Codable, Sendable {
        var plan: String
        var chartVersion: String?
        var appVersion: String?
    }

    var revision: Int
    var spec: Spec
    var previous: Spec?
    var outcome: String
    var reason: String?
    var jobId: String?
    var tenantId: String?
    var tokenId: String?
    /// Set for a member reading a revision a platform administrator asked for (whose IDs are not shown).
    var askedByAnotherTenant: Bool?
    var createdAt: Date
    var finishedAt: Date?

    init(row: PostgresRow) throws {
        revision = try row.decode("revision")
        spec = Spec(plan: try row.decode("plan"), chartVersion: try row.decode("chart_version"), appVersion: try row.decode("app_version"))
        if let text = try row.decode("previous", as: String?.self) {
            let decoded = try JSONDecoder().decode(StoreSpec.self, from: Data(text.utf8))
            previous = Spec(plan: decoded.plan, chartVersion: decoded.chartVersion, appVersion: decoded.appVersion)
        }
        let stored: String = try row.decode("outcome")
        reason = try row.decode("rollback_reason")
        outcome = stored == "pending" && reason != nil ? "rolling-back" : stored
        jobId = try row.decode("job_id", as: UUID?.self)?.lower
        tenantId = try row.decode("tenant_id", as: UUID?.self)?.lower
        tokenId = try row.decode("token_id", as: UUID?.self)?.lower
        createdAt = try row.decode("created_at")
        finishedAt = try row.decode("finished_at")
    }
}

struct StoreAccepted: Codable, Sendable {
    var store: StoreView
    var job: JobView?
}

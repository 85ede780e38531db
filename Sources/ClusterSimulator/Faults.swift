import KubeClient
import Foundation
import ServiceRuntime

/// Faults to inject, set at start (`--faults FILE`) or at run time (`PUT /sim/faults`).
public struct FaultSettings: Codable, Sendable, Equatable {
    /// Fail a share of requests matching a verb and resource with a status code.
    public struct ErrorRule: Codable, Sendable, Equatable {
        /// get, list, create, update, patch, apply, delete, or "*".
        public var verb: String = "*"
        /// A resource plural (deployments, namespaces...) or "*".
        public var resource: String = "*"
        /// From 0 to 1.
        public var rate: Double
        /// 500, 503 or 429.
        public var status: Int
        /// Seconds, sent as Retry-After (429 and 503).
        public var retryAfter: Int?
        /// Only requests whose User-Agent contains this (for example "storefleet" for the worker's own
        /// calls, "helm/" for helm's and helm-sim's); nil matches every client.
        public var userAgent: String?

        public init(verb: String = "*", resource: String = "*", rate: Double, status: Int, retryAfter: Int? = nil, userAgent: String? = nil) {
            self.verb = verb
            self.resource = resource
            self.rate = rate
            self.status = status
            self.retryAfter = retryAfter
            self.userAgent = userAgent
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            verb = try container.decodeIfPresent(String.self, forKey: .verb) ?? "*"
            resource = try container.decodeIfPresent(String.self, forKey: .resource) ?? "*"
            rate = try container.decode(Double.self, forKey: .rate)
            status = try container.decode(Int.self, forKey: .status)
            retryAfter = try container.decodeIfPresent(Int.self, forKey: .retryAfter)
            userAgent = try container.decodeIfPresent(String.self, forKey: .userAgent)
        }
    }

    public var errors: [ErrorRule] = []
    /// Added to every API request, in milliseconds.
    public var latencyMs: Int = 0
    /// Share of API requests whose connection is closed without an answer, from 0 to 1.
    public var dropRate: Double = 0
    /// Workloads whose name, or one of whose images, contains one of these never become ready
    /// (their pods stay in ImagePullBackOff).
    public var neverReady: [String] = []
    /// Namespaces (names, or "*") whose deletion hangs in Terminating.
    public var hangNamespaceDeletion: [String] = []
    /// Namespaces (names, or "*") whose storefront answers with no products, as a store whose setup
    /// did not seed its catalog would.
    public var emptyCatalog: [String] = []
    /// Namespaces (names, or "*") whose storefront answers 403 itself, with an HTML page, as a store
    /// behind a web application firewall or a security plugin does.
    public var storefrontForbidden: [String] = []
    /// Namespaces (names, or "*") whose storefront answers 500 itself, as a store with a broken plugin does.
    public var storefrontError: [String] = []
    /// Jobs whose name contains one of these fail for good once their delay has passed, as a Job does
    /// past its backoffLimit: `status.failed` over the limit and a `Failed` condition.
    public var failJobs: [String] = []
    /// Workloads whose name, or one of whose images, contains one of these start and then crash, again
    /// and again: their pods run but are never ready, their containers in CrashLoopBackOff with a
    /// growing restart count (an application version that dies at boot).
    public var crashLoop: [String] = []

    public init() {}

    /// Every field is optional in a faults file: `{"errors": [...]}` alone is a valid setting.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        errors = try container.decodeIfPresent([ErrorRule].self, forKey: .errors) ?? []
        latencyMs = try container.decodeIfPresent(Int.self, forKey: .latencyMs) ?? 0
        dropRate = try container.decodeIfPresent(Double.self, forKey: .dropRate) ?? 0
        neverReady = try container.decodeIfPresent([String].self, forKey: .neverReady) ?? []
        hangNamespaceDeletion = try container.decodeIfPresent([String].self, forKey: .hangNamespaceDeletion) ?? []
        emptyCatalog = try container.decodeIfPresent([String].self, forKey: .emptyCatalog) ?? []
        storefrontForbidden = try container.decodeIfPresent([String].self, forKey: .storefrontForbidden) ?? []
        storefrontError = try container.decodeIfPresent([String].self, forKey: .storefrontError) ?? []
        failJobs = try container.decodeIfPresent([String].self, forKey: .failJobs) ?? []
        crashLoop = try container.decodeIfPresent([String].self, forKey: .crashLoop) ?? []
    }

    func errorRule(verb: String, resource: String, userAgent: String? = nil) -> ErrorRule? {
        errors.first { rule in
            (rule.verb == "*" || rule.verb == verb) && (rule.resource == "*" || rule.resource == resource)
                && (rule.userAgent.map { (userAgent ?? "").contains($0) } ?? true)
                && Double.random(in: 0..<1) < rule.rate
        }
    }

    func storefrontForbidden(namespace: String) -> Bool {
        storefrontForbidden.contains("*") || storefrontForbidden.contains(namespace)
    }

    func storefrontError(namespace: String) -> Bool {
        storefrontError.contains("*") || storefrontError.contains(namespace)
    }

    func emptyCatalog(namespace: String) -> Bool {
        emptyCatalog.contains("*") || emptyCatalog.contains(namespace)
    }

    func hangs(namespace: String) -> Bool {
        hangNamespaceDeletion.contains("*") || hangNamespaceDeletion.contains(namespace)
    }

    func failsJob(_ name: String) -> Bool {
        failJobs.contains { name.contains($0) }
    }

    func crashes(name: String, images: [String]) -> String? {
        crashLoop.first { pattern in name.contains(pattern) || images.contains { $0.contains(pattern) } }
    }

    func neverReady(name: String, images: [String]) -> String? {
        neverReady.first { pattern in name.contains(pattern) || images.contains { $0.contains(pattern) } }
    }
}

/// One API request as the simulator saw it, for assertions in tests.
public struct RecordedRequest: Codable, Sendable {
    public let sequence: Int
    public let method: String
    public let path: String
    public let query: String
    public let contentType: String?
    public let body: String
    public let status: Int
    public let at: Date
    /// Who called: the worker's client, helm (or helm-sim), kubectl.
    public let userAgent: String?
}

import Foundation
import Jobs
import Platform
import ServiceRuntime

/// Everything the gateway reads from its environment, validated before anything starts.
public struct GatewaySettings: Sendable {
    public var host: String
    public var port: Int
    /// Where `/metrics` is served instead of the API's port, so that an Ingress in front of the API
    /// cannot publish platform-wide figures; nil keeps it on the API's port (local runs).
    public var metricsPort: Int?
    public var backends: Backends.Settings
    public var logging: LoggingSettings
    public var api: APISettings
    public var edge: EdgeSettings

    public init(from reader: ConfigurationReader) throws(ConfigurationError) {
        logging = try LoggingSettings(from: reader)
        host = reader.string("GATEWAY_HOST", default: "127.0.0.1")
        port = try reader.int("GATEWAY_PORT", default: 8080, range: 0...65535)
        let metrics = try reader.int("GATEWAY_METRICS_PORT", default: -1, range: -1...65535)
        metricsPort = metrics < 0 ? nil : metrics
        if let metricsPort, metricsPort != 0, metricsPort == port {
            throw ConfigurationError(variable: "GATEWAY_METRICS_PORT", problem: "must differ from GATEWAY_PORT (\(port))")
        }
        backends = try Backends.Settings(from: reader, applicationName: "storefleet-gateway")
        api = try APISettings(from: reader)
        edge = try EdgeSettings(from: reader)
    }
}

/// How long the HTTP edge waits for a client, and how much it reads from one, before giving up on it
/// (ConnectionGuard). The defaults outlast what an ingress or load balancer in front does: a proxy
/// keeps an idle upstream connection for 60 s (ingress-nginx's upstream keepalive, AWS ALB's idle
/// timeout), so closing ours sooner would make it send requests on connections that are going away.
public struct EdgeSettings: Sendable {
    /// An idle keep-alive connection is closed after this.
    public var idleTimeout: Double = 75
    /// A request head must be complete this long after its first byte: 408 otherwise. A proxy sends
    /// a head at once; only a slowloris needs longer.
    public var headerTimeout: Double = 10
    /// A request body must have fully arrived this long after its head: 408 otherwise.
    public var bodyTimeout: Double = 30
    /// A response the client does not read closes its connection after this.
    public var writeStallTimeout: Double = 30
    /// The request line and headers together: 431 beyond it.
    public var maxHeaderBytes: Int = 32 * 1024

    public init() {}

    public init(from reader: ConfigurationReader) throws(ConfigurationError) {
        idleTimeout = try reader.seconds("GATEWAY_IDLE_TIMEOUT", default: 75, range: 1...3600)
        headerTimeout = try reader.seconds("GATEWAY_HEADER_TIMEOUT", default: 10, range: 1...3600)
        bodyTimeout = try reader.seconds("GATEWAY_BODY_TIMEOUT", default: 30, range: 1...3600)
        writeStallTimeout = try reader.seconds("GATEWAY_WRITE_STALL_TIMEOUT", default: 30, range: 1...3600)
        maxHeaderBytes = try reader.int("GATEWAY_MAX_HEADER_BYTES", default: 32 * 1024, range: 4096...(1024 * 1024))
    }
}

/// What shapes the API's behaviour, apart from where it listens and what it talks to.
public struct APISettings: Sendable {
    /// Stores live at `<name>.<storeDomain>`.
    public var storeDomain: String
    public var storeTLS: Bool
    public var redisKeyPrefix: String
    /// Token bucket per tenant for mutating requests: `rateLimitBurst` at once, refilled at
    /// `rateLimitPerMinute`.
    public var rateLimitBurst: Int
    public var rateLimitPerMinute: Int
    /// How long an idempotency key remembers its response.
    public var idempotencyTTL: Double
    /// The bootstrap admin's token (plain text, hashed before it is stored); nil when not configured.
    public var bootstrapAdminToken: String?
    /// How often the event stream looks for changes.
    public var eventPollInterval: Double
    /// How long one event stream lasts before the server ends it (the client reconnects with
    /// Last-Event-ID and loses nothing).
    public var eventStreamMaxSeconds: Double
    /// Open event streams one tenant may hold on one replica: each polls Postgres twice a second.
    public var eventStreamsPerTenant: Int = 10
    /// Where the dashboard's files are; nil serves the copy bundled with the gateway.
    public var dashboardDirectory: String?
    /// Tells the dashboard that stores land on the cluster simulator (scripts/run.sh without a cluster),
    /// so it can say that they serve no traffic.
    public var simulatedCluster: Bool = false
    /// The plans stores may be put on (PLANS_FILE, or the built-in ones): the worker's own catalog.
    public var plans: PlanCatalog = .builtIn()

    public init(
        storeDomain: String = "127.0.0.1.nip.io", storeTLS: Bool = false, redisKeyPrefix: String = "storefleet",
        rateLimitBurst: Int = 30, rateLimitPerMinute: Int = 60, idempotencyTTL: Double = 86_400,
        bootstrapAdminToken: String? = nil, eventPollInterval: Double = 0.5, eventStreamMaxSeconds: Double = 300
    ) {
        self.storeDomain = storeDomain
        self.storeTLS = storeTLS
        self.redisKeyPrefix = redisKeyPrefix
        self.rateLimitBurst = rateLimitBurst
        self.rateLimitPerMinute = rateLimitPerMinute
        self.idempotencyTTL = idempotencyTTL
        self.bootstrapAdminToken = bootstrapAdminToken
        self.eventPollInterval = eventPollInterval
        self.eventStreamMaxSeconds = eventStreamMaxSeconds
    }

    public init(from reader: ConfigurationReader) throws(ConfigurationError) {
        self.init()
        storeDomain = reader.string("STORE_DOMAIN", default: "127.0.0.1.nip.io")
        storeTLS = try reader.bool("STORE_TLS", default: false)
        plans = try PlanCatalog.load(from: reader)
        redisKeyPrefix = reader.string("REDIS_KEY_PREFIX", default: "storefleet")
        rateLimitBurst = try reader.int("RATE_LIMIT_BURST", default: 30, range: 1...1_000_000)
        rateLimitPerMinute = try reader.int("RATE_LIMIT_PER_MINUTE", default: 60, range: 1...1_000_000)
        idempotencyTTL = try reader.seconds("IDEMPOTENCY_TTL", default: 86_400, range: 60...(30 * 86_400))
        eventPollInterval = try reader.seconds("EVENTS_POLL_INTERVAL", default: 0.5, range: 0.05...10)
        eventStreamMaxSeconds = try reader.seconds("EVENTS_MAX_STREAM", default: 300, range: 1...86_400)
        eventStreamsPerTenant = try reader.int("EVENTS_MAX_STREAMS_PER_TENANT", default: 10, range: 1...10_000)
        dashboardDirectory = reader.raw("DASHBOARD_DIR").flatMap { $0.isEmpty ? nil : $0 }
        simulatedCluster = try reader.bool("SIMULATED_CLUSTER", default: false)
        if let token = reader.raw("BOOTSTRAP_ADMIN_TOKEN"), !token.isEmpty {
            bootstrapAdminToken = token
        } else if let path = reader.raw("BOOTSTRAP_ADMIN_TOKEN_FILE"), !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(variable: "BOOTSTRAP_ADMIN_TOKEN_FILE", problem: "cannot read the file")
            }
            bootstrapAdminToken = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let token = bootstrapAdminToken, token.count < 32 {
            throw ConfigurationError(variable: "BOOTSTRAP_ADMIN_TOKEN", problem: "must be at least 32 characters")
        }
        // The API accepts only tokens that look like its own; any other bootstrap token would start
        // fine and then never sign in.
        if let token = bootstrapAdminToken, !token.hasPrefix(APIToken.prefix) {
            throw ConfigurationError(variable: "BOOTSTRAP_ADMIN_TOKEN", problem: "must start with \(APIToken.prefix), like the tokens the API issues")
        }
    }
}

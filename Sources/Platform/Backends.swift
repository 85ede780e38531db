import Logging
import Postgres
import Redis
import ServiceRuntime

/// Postgres and Redis, connected and migrated: what both executables need before they serve anything.
public struct Backends: Sendable {
    public let postgres: PostgresPool
    public let redis: RedisClient

    /// Settings shared by every process that talks to the backends.
    public struct Settings: Sendable {
        public var postgres: PostgresConfiguration
        public var redis: RedisConfiguration
        /// How long start-up waits for Postgres and Redis to become reachable before giving up.
        public var startupTimeout: Double

        public init(postgres: PostgresConfiguration, redis: RedisConfiguration, startupTimeout: Double) {
            self.postgres = postgres
            self.redis = redis
            self.startupTimeout = startupTimeout
        }

        public init(from reader: ConfigurationReader, applicationName: String) throws(ConfigurationError) {
            self.init(
                postgres: try PostgresConfiguration(from: reader, applicationName: applicationName),
                redis: try RedisConfiguration(from: reader),
                startupTimeout: try reader.seconds("STARTUP_TIMEOUT", default: 60, range: 0...3600)
            )
        }
    }

    public init(postgres: PostgresPool, redis: RedisClient) {
        self.postgres = postgres
        self.redis = redis
    }

    /// Connects to both, waiting up to the start-up timeout for servers that are still starting, and
    /// applies pending migrations. A wrong password or database name fails at once.
    public static func start(_ settings: Settings, logger: Logger) async throws -> Backends {
        let backends = Backends(
            postgres: PostgresPool(configuration: settings.postgres),
            redis: RedisClient(configuration: settings.redis)
        )
        do {
            try await backends.postgres.waitUntilReachable(within: settings.startupTimeout, logger: logger)
            try await backends.waitForRedis(within: settings.startupTimeout, logger: logger)
            let applied = try await Schema.migrate(backends.postgres, logger: logger)
            logger.info("schema is current", metadata: ["applied": "\(applied.count)"])
        } catch {
            await backends.shutdown()
            throw error
        }
        return backends
    }

    /// Whether both servers answer now; for readiness probes.
    public func check(timeout: Double = 2) async -> [String: String] {
        var problems: [String: String] = [:]
        do {
            try await postgres.query("SELECT 1", timeout: timeout)
        } catch {
            problems["postgres"] = "\(error)"
        }
        do {
            try await redis.send("PING", timeout: timeout)
        } catch {
            problems["redis"] = "\(error)"
        }
        return problems
    }

    public func shutdown() async {
        await postgres.shutdown()
        await redis.shutdown()
    }

    private func waitForRedis(within seconds: Double, logger: Logger) async throws {
        let backoff = Backoff(initialDelay: 0.2, multiplier: 2, maxDelay: 2)
        let started = ContinuousClock.now
        var attempt = 0
        while true {
            attempt += 1
            let failure: RedisError
            do {
                try await redis.send("PING")
                return
            } catch {
                failure = error
            }
            guard failure.isTransient, ContinuousClock.now - started < .seconds(seconds) else { throw failure }
            logger.warning("redis not reachable yet, retrying", metadata: ["error": "\(failure.message)", "attempt": "\(attempt)"])
            try await Task.sleep(for: .seconds(backoff.ceiling(attempt: attempt)))
        }
    }
}

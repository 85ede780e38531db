import Logging
import ServiceRuntime

/// A bounded pool of connections. Callers borrow a connection for the length of a closure; when all are
/// in use they wait (up to `acquireTimeout`) instead of failing, so a burst queues rather than errors.
public final class PostgresPool: Sendable {
    public let configuration: PostgresConfiguration
    private let connections: ResourcePool<PostgresConnection>

    public init(configuration: PostgresConfiguration) {
        self.configuration = configuration
        self.connections = ResourcePool(capacity: configuration.maxConnections) { serial in
            PostgresConnection(configuration: configuration, id: serial)
        }
    }

    /// Lends a connection to `body` and takes it back afterwards, whatever happens.
    public func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection: PostgresConnection
        do {
            connection = try await connections.acquire(timeout: configuration.acquireTimeout)
        } catch ResourcePool<PostgresConnection>.Failure.exhausted(let capacity, let waited) {
            throw PostgresError(.poolExhausted, "all \(capacity) connections stayed busy for \(formatSeconds(waited))")
        } catch ResourcePool<PostgresConnection>.Failure.closed {
            throw PostgresError(.poolClosed, "the connection pool is shut down")
        }
        defer { connections.release(connection) }
        return try await body(connection)
    }

    /// Runs one statement on any free connection.
    @discardableResult
    public func query(_ query: PostgresQuery, timeout: Double? = nil) async throws -> PostgresResult {
        try await withConnection { try await $0.query(query, timeout: timeout) }
    }

    /// Runs `body` inside BEGIN/COMMIT; any error rolls back and is rethrown.
    public func transaction<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { connection in
            try await connection.query("BEGIN")
            let value: T
            do {
                value = try await body(connection)
            } catch {
                // A broken connection has rolled back on the server already; the next use reopens it.
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
            try await connection.query("COMMIT")
            return value
        }
    }

    /// Waits until a connection succeeds, retrying transient failures with backoff; used at start-up so
    /// that a process started before its database waits for it, while a wrong password fails at once.
    public func waitUntilReachable(within seconds: Double, logger: Logger) async throws {
        let backoff = Backoff(initialDelay: 0.2, multiplier: 2, maxDelay: 2)
        let started = ContinuousClock.now
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await query("SELECT 1", timeout: configuration.connectTimeout)
                return
            } catch let error as PostgresError where error.isTransient {
                let elapsed = ContinuousClock.now - started
                if elapsed > .seconds(seconds) { throw error }
                logger.warning("postgres not reachable yet, retrying", metadata: ["error": "\(error.message)", "attempt": "\(attempt)"])
                try await Task.sleep(for: .seconds(backoff.ceiling(attempt: attempt)))
            }
        }
    }

    /// Closes idle connections and refuses new borrowers.
    public func shutdown() async {
        for connection in connections.close() { await connection.close() }
    }
}


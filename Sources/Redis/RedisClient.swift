import Logging
import ServiceRuntime

/// A pool of Redis connections for ordinary commands, pipelines and scripts. Blocking commands get a
/// connection of their own (`makeBlockingConnection`) so they never hold a pooled one hostage.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let connections: ResourcePool<RedisConnection>
    /// SHA1 of each script as Redis reported it when loaded.
    private let scriptHashes = LockedState([String: String]())

    public init(configuration: RedisConfiguration) {
        self.configuration = configuration
        self.connections = ResourcePool(capacity: configuration.poolSize) { serial in
            RedisConnection(configuration: configuration, label: "pool.\(serial)")
        }
    }

    @discardableResult
    public func send(_ command: RedisCommand, timeout: Double? = nil) async throws(RedisError) -> RedisValue {
        try await withConnection { connection throws(RedisError) in try await connection.send(command, timeout: timeout) }
    }

    @discardableResult
    public func send(_ name: String, _ arguments: any RedisArgument..., timeout: Double? = nil) async throws(RedisError) -> RedisValue {
        try await send(RedisCommand(name, arguments), timeout: timeout)
    }

    public func pipeline(_ commands: [RedisCommand], timeout: Double? = nil) async throws(RedisError) -> [RedisValue] {
        try await withConnection { connection throws(RedisError) in try await connection.pipeline(commands, timeout: timeout) }
    }

    /// Runs a script with EVALSHA, loading it first when Redis does not know it.
    @discardableResult
    public func run(_ script: RedisScript, keys: [any RedisArgument], arguments: [any RedisArgument] = [], timeout: Double? = nil) async throws(RedisError) -> RedisValue {
        try await withConnection { connection throws(RedisError) in
            var hash = scriptHashes.withLock { $0[script.source] }
            for attempt in 1...2 {
                if hash == nil {
                    let loaded = try await connection.send(RedisCommand("SCRIPT", "LOAD", script.source), timeout: timeout)
                    guard let sha = loaded.string else {
                        throw RedisError(.unexpectedReply, "SCRIPT LOAD answered \(loaded)", command: script.name)
                    }
                    scriptHashes.withLock { $0[script.source] = sha }
                    hash = sha
                }
                do throws(RedisError) {
                    return try await connection.send(
                        RedisCommand("EVALSHA", [hash!, keys.count] + keys + arguments), timeout: timeout
                    )
                } catch where error.serverCode == "NOSCRIPT" && attempt == 1 {
                    hash = nil  // Redis restarted or flushed its scripts: load again.
                }
            }
            throw RedisError(.server, "NOSCRIPT persisted after reloading", command: script.name)
        }
    }

    /// A connection outside the pool for blocking commands such as BLMOVE.
    public func makeBlockingConnection(label: String) -> RedisBlockingConnection {
        RedisBlockingConnection(connection: RedisConnection(configuration: configuration, label: label), configuration: configuration)
    }

    public func shutdown() async {
        for connection in connections.close() { await connection.close() }
    }

    private func withConnection<T>(_ body: (RedisConnection) async throws(RedisError) -> T) async throws(RedisError) -> T {
        let connection: RedisConnection
        do {
            connection = try await connections.acquire(timeout: configuration.acquireTimeout)
        } catch ResourcePool<RedisConnection>.Failure.exhausted(let capacity, let waited) {
            throw RedisError(.poolExhausted, "all \(capacity) connections stayed busy for \(formatSeconds(waited))")
        } catch {
            throw RedisError(.closed, "the Redis client is shut down")
        }
        defer { connections.release(connection) }
        return try await body(connection)
    }
}

/// A dedicated connection for commands that block server-side. Its socket timeout is the command's own
/// block time plus the normal command timeout, so a long BLMOVE is not mistaken for a dead server.
public final class RedisBlockingConnection: Sendable {
    public enum End: String, Sendable { case left = "LEFT", right = "RIGHT" }

    private let connection: RedisConnection
    private let configuration: RedisConfiguration

    init(connection: RedisConnection, configuration: RedisConfiguration) {
        self.connection = connection
        self.configuration = configuration
    }

    /// BLMOVE: atomically moves an element from `source` to `destination`, waiting up to `wait`
    /// seconds for one to appear; nil when none did.
    public func blockingMove(from source: String, to destination: String, sourceEnd: End = .right, destinationEnd: End = .left, wait: Double) async throws(RedisError) -> [UInt8]? {
        let reply = try await connection.send(
            RedisCommand("BLMOVE", source, destination, sourceEnd.rawValue, destinationEnd.rawValue, wait),
            timeout: wait + configuration.commandTimeout
        )
        switch reply {
        case .null: return nil
        case .bulk(let bytes): return bytes
        default: throw RedisError(.unexpectedReply, "BLMOVE answered \(reply)", command: "BLMOVE")
        }
    }

    public func send(_ command: RedisCommand, timeout: Double) async throws(RedisError) -> RedisValue {
        try await connection.send(command, timeout: timeout)
    }

    public func close() async {
        await connection.close()
    }
}

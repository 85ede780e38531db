import Foundation
import ServiceRuntime

/// Where Redis is and how patient to be with it.
public struct RedisConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    public var poolSize: Int
    public var connectTimeout: Double
    /// The default limit for one command's reply.
    public var commandTimeout: Double
    public var acquireTimeout: Double

    public init(
        host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil,
        database: Int = 0, poolSize: Int = 8, connectTimeout: Double = 2, commandTimeout: Double = 5,
        acquireTimeout: Double = 5
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.poolSize = poolSize
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.acquireTimeout = acquireTimeout
    }

    /// Parses redis://[[user]:password@]host[:port][/db].
    public init(url text: String) throws(ConfigurationError) {
        try self.init(from: ConfigurationReader(["REDIS_URL": text]))
    }

    /// Reads `REDIS_URL` and the `REDIS_*` tuning variables.
    public init(from reader: ConfigurationReader) throws(ConfigurationError) {
        let url = try reader.url("REDIS_URL", schemes: ["redis"], example: "redis://127.0.0.1:6379/0")
        var database = 0
        let path = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty {
            guard let number = Int(path), number >= 0 else {
                throw ConfigurationError(variable: "REDIS_URL", problem: "the path must be a database number such as /0")
            }
            database = number
        }
        let username = url.user.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding }
        self.init(
            host: url.host ?? "127.0.0.1",
            port: url.port ?? 6379,
            username: username,
            password: url.password?.removingPercentEncoding,
            database: database,
            poolSize: try reader.int("REDIS_POOL_SIZE", default: 8, range: 1...200),
            connectTimeout: try reader.seconds("REDIS_CONNECT_TIMEOUT", default: 2, range: 0.1...60),
            commandTimeout: try reader.seconds("REDIS_COMMAND_TIMEOUT", default: 5, range: 0.1...300),
            acquireTimeout: try reader.seconds("REDIS_ACQUIRE_TIMEOUT", default: 5, range: 0.1...300)
        )
    }
}

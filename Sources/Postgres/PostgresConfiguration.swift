import Foundation
import ServiceRuntime

/// Where and how to connect. The URL is handed to libpq as is (it understands postgres:// URIs with
/// sslmode and other parameters); the settings below are what this project adds on top.
public struct PostgresConfiguration: Sendable {
    public var url: String
    /// Upper bound on open connections in a pool.
    public var maxConnections: Int
    /// How long opening a TCP connection and authenticating may take.
    public var connectTimeout: Double
    /// The default time limit for one statement, enforced on the client (the statement is cancelled).
    public var statementTimeout: Double
    /// How long a caller waits for a pooled connection before `poolExhausted`.
    public var acquireTimeout: Double
    /// Shown in `pg_stat_activity`, so an operator sees which process holds a connection.
    public var applicationName: String

    public init(
        url: String,
        maxConnections: Int = 10,
        connectTimeout: Double = 5,
        statementTimeout: Double = 15,
        acquireTimeout: Double = 10,
        applicationName: String = "storefleet"
    ) {
        self.url = url
        self.maxConnections = maxConnections
        self.connectTimeout = connectTimeout
        self.statementTimeout = statementTimeout
        self.acquireTimeout = acquireTimeout
        self.applicationName = applicationName
    }

    /// Reads `DATABASE_URL` and the `DATABASE_*` tuning variables.
    public init(from reader: ConfigurationReader, applicationName: String) throws(ConfigurationError) {
        let url = try reader.url(
            "DATABASE_URL", schemes: ["postgres", "postgresql"],
            example: "postgres://storefleet:secret@127.0.0.1:5432/storefleet"
        )
        self.init(
            url: url.absoluteString,
            maxConnections: try reader.int("DATABASE_POOL_SIZE", default: 10, range: 1...200),
            connectTimeout: try reader.seconds("DATABASE_CONNECT_TIMEOUT", default: 5, range: 1...120),
            statementTimeout: try reader.seconds("DATABASE_STATEMENT_TIMEOUT", default: 15, range: 0.1...3600),
            acquireTimeout: try reader.seconds("DATABASE_ACQUIRE_TIMEOUT", default: 10, range: 0.1...600),
            applicationName: applicationName
        )
    }
}

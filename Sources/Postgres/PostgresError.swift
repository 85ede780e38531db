/// A failure talking to Postgres, with enough context to act on: what kind, the server's message and
/// SQLSTATE when there is one, and the statement's first line (never its parameter values).
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    // The first kinds mirror RedisError's on purpose, so that callers read both clients' failures the
    // same way; the two stay separate types so that neither module depends on the other.
    public enum Kind: String, Sendable {
        /// Could not open a connection (server down, wrong host, refused credentials).
        case connectionFailed
        /// The connection broke while a statement was in flight; whether it ran is unknown.
        case connectionLost
        /// The statement did not finish within its timeout and was cancelled.
        case timedOut
        /// The server refused or failed the statement; `sqlState` says why.
        case server
        /// No pooled connection became free within the acquisition timeout.
        case poolExhausted
        /// The pool was shut down.
        case poolClosed
        /// A column could not be decoded into the requested Swift type.
        case decoding
    }

    public let kind: Kind
    public let message: String
    public let sqlState: String?
    public let statement: String?

    public init(_ kind: Kind, _ message: String, sqlState: String? = nil, statement: String? = nil) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.statement = statement
    }

    public var description: String {
        var text = "postgres \(kind.rawValue): \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let statement { text += " in \"\(statement)\"" }
        return text
    }

    /// Whether the same work may succeed if tried again later: connection trouble, timeouts, a busy pool,
    /// and the server errors that mean "not now" (serialization failure, deadlock, shutdown, start-up).
    public var isTransient: Bool {
        switch kind {
        case .connectionLost, .timedOut, .poolExhausted: return true
        case .connectionFailed: return !isRefusedCredentials
        case .poolClosed, .decoding: return false
        case .server:
            guard let sqlState else { return false }
            return Self.transientStates.contains(sqlState) || sqlState.hasPrefix("08")
        }
    }

    /// Wrong password, unknown user or database: retrying cannot help, an operator must fix the URL.
    public var isRefusedCredentials: Bool {
        kind == .connectionFailed
            && (message.contains("authentication failed") || message.contains("does not exist")
                || message.contains("no password supplied") || message.contains("no pg_hba.conf entry"))
    }

    var isUniqueViolation: Bool { sqlState == "23505" }

    static let transientStates: Set<String> = [
        "40001",  // serialization_failure
        "40P01",  // deadlock_detected
        "55P03",  // lock_not_available
        "57014",  // query_canceled
        "57P01",  // admin_shutdown
        "57P02",  // crash_shutdown
        "57P03",  // cannot_connect_now
        "53300",  // too_many_connections
    ]
}

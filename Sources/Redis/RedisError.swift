/// A failure talking to Redis.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// Could not connect or authenticate.
        case connectionFailed
        /// The connection broke mid-command; whether the command ran is unknown.
        case connectionLost
        /// No reply within the timeout; the connection is dropped.
        case timedOut
        /// Redis answered with an error reply; `message` is the server's text (for example "NOSCRIPT ...").
        case server
        /// No pooled connection became free within the acquisition timeout.
        case poolExhausted
        /// The client was shut down.
        case closed
        /// A reply did not have the shape the caller expected.
        case unexpectedReply
    }

    public let kind: Kind
    public let message: String
    public let command: String?

    public init(_ kind: Kind, _ message: String, command: String? = nil) {
        self.kind = kind
        self.message = message
        self.command = command
    }

    public var description: String {
        "redis \(kind.rawValue): \(message)" + (command.map { " (\($0))" } ?? "")
    }

    /// The error code Redis puts first in an error reply ("ERR", "WRONGTYPE", "NOSCRIPT", "LOADING"...).
    public var serverCode: String? {
        guard kind == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    public var isTransient: Bool {
        switch kind {
        case .connectionFailed, .connectionLost, .timedOut, .poolExhausted: return true
        case .server: return ["LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN"].contains(serverCode ?? "")
        case .closed, .unexpectedReply: return false
        }
    }
}

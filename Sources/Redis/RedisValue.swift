import Foundation

/// A reply from Redis (RESP2).
public enum RedisValue: Sendable, Hashable {
    case null
    case bulk([UInt8])
    case integer(Int)
    case array([RedisValue])
    case status(String)
    /// An error reply inside a pipeline or script result; a single command's error is thrown instead.
    case error(String)

    public var string: String? {
        switch self {
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        case .integer(let value): String(value)
        default: nil
        }
    }

    public var bytes: [UInt8]? {
        if case .bulk(let bytes) = self { return bytes }
        return nil
    }

    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .bulk(let bytes): Int(String(decoding: bytes, as: UTF8.self))
        default: nil
        }
    }

    public var array: [RedisValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

}

/// A value that can be sent as a command argument. Arguments travel with their lengths, so any bytes,
/// including NUL and CR/LF, arrive unchanged.
public protocol RedisArgument: Sendable {
    var redisBytes: [UInt8] { get }
}

extension String: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Substring: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Int: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Double: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension UUID: RedisArgument {
    public var redisBytes: [UInt8] { Array(uuidString.lowercased().utf8) }
}

extension Array: RedisArgument where Element == UInt8 {
    public var redisBytes: [UInt8] { self }
}

/// One command: its name and arguments.
public struct RedisCommand: Sendable {
    public let arguments: [[UInt8]]

    public init(_ name: String, _ arguments: any RedisArgument...) {
        self.init(name, arguments)
    }

    public init(_ name: String, _ arguments: [any RedisArgument]) {
        self.arguments = [Array(name.utf8)] + arguments.map(\.redisBytes)
    }

    var name: String { String(decoding: arguments.first ?? [], as: UTF8.self) }
}

/// A Lua script run with EVALSHA; the client loads it on first use and again whenever Redis has
/// forgotten it (a restart or SCRIPT FLUSH), so callers never see NOSCRIPT.
public struct RedisScript: Sendable, Hashable {
    public let name: String
    public let source: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }
}

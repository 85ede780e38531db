import Foundation

/// A column's type, by the OIDs of the built-in types this project decodes.
public struct PostgresType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let bool = PostgresType(rawValue: 16)
    public static let bytea = PostgresType(rawValue: 17)
    public static let int8 = PostgresType(rawValue: 20)
    public static let int2 = PostgresType(rawValue: 21)
    public static let int4 = PostgresType(rawValue: 23)
    public static let text = PostgresType(rawValue: 25)
    public static let json = PostgresType(rawValue: 114)
    public static let float4 = PostgresType(rawValue: 700)
    public static let float8 = PostgresType(rawValue: 701)
    public static let varchar = PostgresType(rawValue: 1043)
    public static let timestamp = PostgresType(rawValue: 1114)
    public static let timestamptz = PostgresType(rawValue: 1184)
    public static let numeric = PostgresType(rawValue: 1700)
    public static let uuid = PostgresType(rawValue: 2950)
    public static let jsonb = PostgresType(rawValue: 3802)
    public static let textArray = PostgresType(rawValue: 1009)

    public var description: String {
        switch self {
        case .bool: "bool"
        case .bytea: "bytea"
        case .int8: "int8"
        case .int2: "int2"
        case .int4: "int4"
        case .text: "text"
        case .json: "json"
        case .float4: "float4"
        case .float8: "float8"
        case .varchar: "varchar"
        case .timestamp: "timestamp"
        case .timestamptz: "timestamptz"
        case .numeric: "numeric"
        case .uuid: "uuid"
        case .jsonb: "jsonb"
        case .textArray: "text[]"
        default: "oid \(rawValue)"
        }
    }
}

public struct PostgresColumn: Sendable, Hashable {
    public let name: String
    public let type: PostgresType
}

/// The outcome of one statement, materialized so the connection can be returned to the pool at once.
public struct PostgresResult: Sendable {
    public let columns: [PostgresColumn]
    public let rows: [PostgresRow]

    public var first: PostgresRow? { rows.first }
}

/// One row; values are kept in Postgres' text format and decoded on request into Swift types.
public struct PostgresRow: Sendable {
    let columnIndex: [String: Int]
    public let columns: [PostgresColumn]
    public let values: [String?]

    /// Decodes the named column. `T` may be optional, in which case SQL NULL decodes to nil.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard let index = columnIndex[column] else {
            throw PostgresError(.decoding, "no column \"\(column)\" in the result (columns: \(columns.map(\.name).joined(separator: ", ")))")
        }
        return try decode(at: index, as: type)
    }

    public func decode<T: PostgresDecodable>(at index: Int, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard values.indices.contains(index) else {
            throw PostgresError(.decoding, "column index \(index) is out of range")
        }
        let column = columns[index]
        do {
            return try T.decode(postgresText: values[index], type: column.type)
        } catch {
            throw PostgresError(.decoding, "column \"\(column.name)\" (\(column.type)): \(error.reason)")
        }
    }
}

public struct PostgresDecodingFailure: Error, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// A Swift type that a column in text format decodes into.
public protocol PostgresDecodable: Sendable {
    /// `text` is nil for SQL NULL; non-optional types refuse it.
    static func decode(postgresText text: String?, type: PostgresType) throws(PostgresDecodingFailure) -> Self
}

/// Non-optional types decode from a present value; NULL is an error that names the column.
public protocol PostgresNonNullDecodable: PostgresDecodable {
    init(postgresValue text: String, type: PostgresType) throws(PostgresDecodingFailure)
}

extension PostgresNonNullDecodable {
    public static func decode(postgresText text: String?, type: PostgresType) throws(PostgresDecodingFailure) -> Self {
        guard let text else { throw PostgresDecodingFailure("is NULL; decode it as an optional") }
        return try Self(postgresValue: text, type: type)
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(postgresText text: String?, type: PostgresType) throws(PostgresDecodingFailure) -> Self {
        guard let text else { return nil }
        return try Wrapped.decode(postgresText: text, type: type)
    }
}

extension String: PostgresNonNullDecodable {
    public init(postgresValue text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        self = text
    }
}

extension Int: PostgresNonNullDecodable {
    public init(postgresValue text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        guard let value = Int(text) else { throw PostgresDecodingFailure("\"\(text.prefix(40))\" is not an integer") }
        self = value
    }
}

extension Int64: PostgresNonNullDecodable {
    public init(postgresValue text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        guard let value = Int64(text) else { throw PostgresDecodingFailure("\"\(text.prefix(40))\" is not an integer") }
        self = value
    }
}

extension Int32: PostgresNonNullDecodable {
    public init(postgresValue text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        guard let value = Int32(text) else { throw PostgresDecodingFailure("\"\(text.prefix(40))\" is not a 32-bit integer") }
        self = value
    }
}

extension Bool: PostgresNonNullDecodable {
    public init(postgresValue text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        switch text {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw PostgresDecodingFailure("\"\(text.prefix(40))\" is not a boolean")
        }
    }
}

extension Double: PostgresNonNullDecodable {
    public init(postgresValue text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        switch text {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default:
            guard let value = Double(text) else { throw PostgresDecodingFailure("\"\(text.prefix(40))\" is not a number") }
            self = value
        }
    }
}

extension UUID: PostgresNonNullDecodable {
    public init(postgresValue text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        guard let value = UUID(uuidString: text) else { throw PostgresDecodingFailure("\"\(text.prefix(40))\" is not a UUID") }
        self = value
    }
}

extension Date: PostgresNonNullDecodable {
    public init(postgresValue text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        guard let value = PostgresTimestamp.parse(text) else {
            throw PostgresDecodingFailure("\"\(text.prefix(40))\" is not a timestamp")
        }
        self = value
    }
}

extension PostgresJSON: PostgresNonNullDecodable {
    public init(postgresValue text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        self.init(text: text)
    }
}

/// `bytea` arrives as "\x" followed by hex digits (the server's default `bytea_output`).
extension Array: PostgresDecodable, PostgresNonNullDecodable where Element == UInt8 {
    public init(postgresValue text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == 92, utf8[1] == 120, utf8.count % 2 == 0 else {
            throw PostgresDecodingFailure("is not bytea in hex format")
        }
        func nibble(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 48...57: byte - 48
            case 97...102: byte - 87
            case 65...70: byte - 55
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((utf8.count - 2) / 2)
        var index = 2
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else {
                throw PostgresDecodingFailure("is not bytea in hex format")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        self = bytes
    }
}

extension PostgresTextArray: PostgresNonNullDecodable {
    /// Parses a one-dimensional array literal such as {a,"b c","d\"e",NULL}; NULL elements are refused.
    public init(postgresValue text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        var scalars = Array(text.unicodeScalars)
        guard scalars.first == "{", scalars.last == "}" else { throw PostgresDecodingFailure("is not an array literal") }
        scalars.removeFirst()
        scalars.removeLast()
        var elements: [String] = []
        var index = 0
        while index < scalars.count {
            var element = String.UnicodeScalarView()
            var quoted = false
            if scalars[index] == "\"" {
                quoted = true
                index += 1
                while index < scalars.count, scalars[index] != "\"" {
                    if scalars[index] == "\\", index + 1 < scalars.count { index += 1 }
                    element.append(scalars[index])
                    index += 1
                }
                index += 1
            } else {
                while index < scalars.count, scalars[index] != "," {
                    element.append(scalars[index])
                    index += 1
                }
            }
            let value = String(element)
            if !quoted, value == "NULL" { throw PostgresDecodingFailure("has a NULL element") }
            elements.append(value)
            index += 1  // the comma
        }
        self.init(elements)
    }
}

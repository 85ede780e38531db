import Foundation
import KubeClient
import Yams

/// `-o`: how a command prints what the API answered.
public enum OutputFormat: String, CaseIterable, Sendable {
    /// Aligned columns for people, sized to the terminal.
    case table
    /// The API's JSON, indented, keys sorted: for jq.
    case json
    /// The same as YAML.
    case yaml
    /// One name (or ID) per line: for xargs and loops.
    case name
}

/// How one kind of resource is shown as a table and as a name.
public struct Presentation: Sendable {
    public var headers: [String]
    public var row: @Sendable (JSON) -> [String]
    public var name: @Sendable (JSON) -> String

    public init(headers: [String], row: @escaping @Sendable (JSON) -> [String], name: @escaping @Sendable (JSON) -> String) {
        self.headers = headers
        self.row = row
        self.name = name
    }
}

public enum Render {
    /// A list of resources in the chosen format. JSON and YAML print `{"items": [...]}` as the API does.
    public static func list(_ items: [JSON], as format: OutputFormat, _ presentation: Presentation, width: Int?) -> String {
        switch format {
        case .table:
            if items.isEmpty { return "" }
            return Table(headers: presentation.headers, rows: items.map(presentation.row)).render(width: width)
        case .json: return json(["items": .array(items)])
        case .yaml: return yaml(["items": .array(items)])
        case .name: return items.map(presentation.name).joined(separator: "\n")
        }
    }

    /// Indented JSON with sorted keys and unescaped slashes.
    public static func json(_ value: JSON) -> String {
        var out = ""
        write(value, indent: 0, to: &out)
        return out
    }

    private static func write(_ value: JSON, indent: Int, to out: inout String) {
        let pad = String(repeating: "  ", count: indent + 1), closing = String(repeating: "  ", count: indent)
        switch value {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (index, item) in items.enumerated() {
                out += pad
                write(item, indent: indent + 1, to: &out)
                out += index == items.count - 1 ? "\n" : ",\n"
            }
            out += closing + "]"
        case .object(let fields) where !fields.isEmpty:
            out += "{\n"
            for (index, key) in fields.keys.sorted().enumerated() {
                out += pad + String(decoding: JSON.string(key).serialized(), as: UTF8.self) + ": "
                write(fields[key]!, indent: indent + 1, to: &out)
                out += index == fields.count - 1 ? "\n" : ",\n"
            }
            out += closing + "}"
        default:
            out += String(decoding: value.serialized(), as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")
        }
    }

    /// YAML 1.2 of the same value. Strings that YAML would read as another type ("true", "1.0", "null")
    /// are quoted, so the document reads back as the JSON it came from.
    public static func yaml(_ value: JSON) -> String {
        let text = (try? Yams.serialize(node: node(value), sortKeys: true)) ?? ""
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    static func node(_ value: JSON) -> Node {
        switch value {
        case .null: return Node("null", Tag(.null))
        case .bool(let flag): return Node(flag ? "true" : "false", Tag(.bool))
        case .number(let number):
            if number.rounded() == number && abs(number) < 1e15 { return Node(String(Int64(number)), Tag(.int)) }
            return Node(String(number), Tag(.float))
        case .string(let text):
            // Plain only when a YAML 1.1 or 1.2 reader cannot take it for anything but a string.
            let plainIsSafe = Resolver.default.resolveTag(of: Node(text)) == .str
                && !["y", "n", "yes", "no", "on", "off", "~"].contains(text.lowercased()) && !text.isEmpty
            return Node(text, Tag(.str), plainIsSafe ? .any : .doubleQuoted)
        case .array(let items): return Node(items.map(node))
        case .object(let fields):
            return Node(fields.keys.sorted().map { (Node($0), node(fields[$0]!)) })
        }
    }
}

/// Times as people read them in a table: an age ("5m", "3h", "2d") and a duration.
public enum Humanize {
    static func parse(_ text: String?) -> Date? {
        guard let text else { return nil }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: text) { return date }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        return plain.date(from: text)
    }

    public static func age(_ timestamp: String?, now: Date = Date()) -> String {
        guard let date = parse(timestamp) else { return "-" }
        return duration(max(0, now.timeIntervalSince(date)), coarse: true)
    }

    public static func duration(_ seconds: Double, coarse: Bool = false) -> String {
        if seconds < 60 { return coarse ? "\(Int(seconds))s" : String(format: "%.1fs", seconds) }
        let whole = Int(seconds)
        if whole < 3600 { return coarse ? "\(whole / 60)m" : "\(whole / 60)m\(whole % 60)s" }
        if whole < 86_400 { return "\(whole / 3600)h\(coarse ? "" : "\(whole % 3600 / 60)m")" }
        return "\(whole / 86_400)d"
    }
}

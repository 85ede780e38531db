import Foundation
import Logging

/// How a process writes its logs: human-readable lines by default, one JSON object per line when
/// `LOG_FORMAT=json` (what log collectors in a cluster expect).
public struct LoggingSettings: Sendable {
    public enum Format: String, Sendable { case text, json }
    public var format: Format
    public var level: Logger.Level

    public init(format: Format, level: Logger.Level) {
        self.format = format
        self.level = level
    }

    public init(from reader: ConfigurationReader) throws(ConfigurationError) {
        let format = try reader.string("LOG_FORMAT", default: "text", oneOf: ["text", "json"])
        let level = try reader.string(
            "LOG_LEVEL", default: "info",
            oneOf: Logger.Level.allCases.map(\.rawValue)
        )
        self.init(format: Format(rawValue: format)!, level: Logger.Level(rawValue: level)!)
    }

    /// Installs the process-wide log handler. Call once, first thing in `main`. `metadataProvider`
    /// adds metadata from the task's context to every line (with tracing on: `trace_id`, `span_id`).
    public func bootstrap(metadataProvider: Logger.MetadataProvider? = nil) {
        let format = self.format
        let level = self.level
        LoggingSystem.bootstrap({ label, provider in
            var handler = LineLogHandler(label: label, format: format)
            handler.logLevel = level
            handler.metadataProvider = provider
            return handler
        }, metadataProvider: metadataProvider)
    }
}

/// Writes each record as one line on standard error: text in the shape of swift-log's
/// `StreamLogHandler` (`<time> <level> <label>: key=value ... [<source>] <message>`), or one JSON object
/// (timestamp, level, label, message and metadata). Metadata is formatted only when a record is
/// written: `StreamLogHandler` formats it on every change, and the gateway changes a request logger's
/// metadata on every request while writing almost none of them.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: LoggingSettings.Format

    public init(label: String, format: LoggingSettings.Format) {
        self.label = label
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line: Data?
        switch format {
        case .text: line = textLine(event, merged)
        case .json: line = jsonLine(event, merged)
        }
        if let line { FileHandle.standardError.write(line) }
    }

    private func textLine(_ event: LogEvent, _ metadata: Logger.Metadata) -> Data {
        let pretty = metadata.isEmpty ? "" : " " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        let timestamp = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Data("\(timestamp) \(event.level) \(label):\(pretty) [\(event.source)] \(event.message)\n".utf8)
    }

    private func jsonLine(_ event: LogEvent, _ metadata: Logger.Metadata) -> Data? {
        var object: [String: Any] = [
            "ts": Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)),
            "level": event.level.rawValue,
            "logger": label,
            "msg": event.message.description,
        ]
        for (key, value) in metadata where object[key] == nil {
            object[key] = Self.json(value)
        }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return nil }
        data.append(0x0A)
        return data
    }

    private static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let a): return a.map(json)
        case .dictionary(let d): return d.mapValues(json)
        }
    }
}

extension UUID {
    /// How IDs are written everywhere (responses, logs, messages): lowercase, as Postgres prints them and
    /// RFC 9562 recommends for output. A UUID interpolated as is, or encoded by JSONEncoder, is uppercase.
    public var lower: String { uuidString.lowercased() }
}

/// One Server-Sent Event as the HTML spec's parser yields it.
public struct ServerSentEvent: Equatable, Sendable {
    public var event: String
    public var data: String
    public var id: String?
}

/// Turns a byte stream into events (WHATWG HTML, "Parsing an event stream"): lines end in LF, CRLF or
/// CR; a blank line dispatches; `:` starts a comment; `id` is kept across events until set again.
/// Chunks may split lines and UTF-8 sequences anywhere.
public struct ServerSentEventParser: Sendable {
    private var pending: [UInt8] = []
    private var lastWasCR = false
    private var eventType = ""
    private var data: [String] = []
    private var hasData = false
    private var atStart = true
    public private(set) var lastEventID: String?
    /// The server's `retry:` advice, in milliseconds: how long to wait before reconnecting.
    public private(set) var retryMilliseconds: Int?

    public init() {}

    public mutating func feed(_ bytes: [UInt8]) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        var bytes = bytes[...]
        if atStart, !bytes.isEmpty {
            // A UTF-8 byte order mark at the very start of the stream is not part of the first line.
            if pending.count + bytes.count < 3 && [0xEF, 0xBB, 0xBF].starts(with: pending + bytes) {
                pending += bytes
                return []
            }
            let head = pending + bytes
            atStart = false
            pending = []
            bytes = (head.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(head.dropFirst(3)) : head)[...]
        }
        for byte in bytes {
            if byte == 0x0A && lastWasCR {
                lastWasCR = false
                continue
            }
            lastWasCR = byte == 0x0D
            if byte == 0x0A || byte == 0x0D {
                if let event = line(String(decoding: pending, as: UTF8.self)) { events.append(event) }
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(byte)
            }
        }
        return events
    }

    private mutating func line(_ line: String) -> ServerSentEvent? {
        if line.isEmpty {
            defer {
                eventType = ""
                data = []
                hasData = false
            }
            guard hasData else { return nil }
            return ServerSentEvent(event: eventType.isEmpty ? "message" : eventType, data: data.joined(separator: "\n"), id: lastEventID)
        }
        if line.hasPrefix(":") { return nil }
        let field: Substring, value: Substring
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            var rest = line[line.index(after: colon)...]
            if rest.hasPrefix(" ") { rest = rest.dropFirst() }
            value = rest
        } else {
            field = Substring(line)
            value = ""
        }
        switch field {
        case "event": eventType = String(value)
        case "data":
            data.append(String(value))
            hasData = true
        case "id" where !value.contains("\0"): lastEventID = String(value)
        case "retry" where !value.isEmpty && value.allSatisfy(\.isASCII) && value.allSatisfy(\.isNumber):
            retryMilliseconds = Int(value)
        default: break
        }
        return nil
    }
}

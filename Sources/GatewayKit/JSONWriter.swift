import Foundation
import ServiceRuntime

#if canImport(Glibc)
import Glibc
#endif

/// A small JSON writer for the responses clients poll most (a job and its steps). `JSONEncoder` with
/// snake_case keys and ICU date formatting cost more CPU than everything else in such a request;
/// writing the few known fields directly does not. The output is the same JSON the encoder writes
/// (a test holds them equal), keys in the same sorted order.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ value: String) {
        JSONBytes.appendQuoted(value, to: &bytes)
    }

    mutating func int(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    /// As `JSONEncoder` writes a Double: integral values without a fraction.
    mutating func double(_ value: Double) {
        JSONBytes.appendNumber(value, to: &bytes)
    }

    mutating func date(_ value: Date) {
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: Timestamp.string(value).utf8)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Writes `"key":` after a comma unless it is the object's first key.
    mutating func key(_ name: StaticString, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        raw(name)
        raw("\":")
    }
}

/// RFC 3339 timestamps in UTC with milliseconds, as the API writes them: `2026-11-23T10:04:05.123Z`.
/// Formatted by hand: `ISO8601DateFormatter` goes through ICU and was a tenth of a job read's CPU.
enum Timestamp {
    static func string(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000)
        let millis = Int(milliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var text = [UInt8]()
        text.reserveCapacity(24)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        text.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        text.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        text.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        text.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        text.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        text.append(UInt8(ascii: "."))
        digits(millis, 3)
        text.append(UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }
}

extension JobView {
    /// This view as the API's JSON; the same as `JSONCoding.encode(self)`, much cheaper.
    func json() -> [UInt8] {
        if transitions != nil { return Array(JSONCoding.encode(self)) }
        var writer = JSONWriter()
        writer.raw("{")
        writer.key("cancel_requested", first: true)
        writer.bool(cancelRequested)
        writer.key("created_at")
        writer.date(createdAt)
        writer.key("current_step")
        writer.int(currentStep)
        if let error {
            writer.key("error")
            writer.string(error)
        }
        if let finishedAt {
            writer.key("finished_at")
            writer.date(finishedAt)
        }
        writer.key("id")
        writer.string(id)
        writer.key("kind")
        writer.string(kind)
        writer.key("progress")
        writer.double(progress)
        if let startedAt {
            writer.key("started_at")
            writer.date(startedAt)
        }
        writer.key("status")
        writer.string(status.rawValue)
        writer.key("steps")
        writer.raw("[")
        for (index, step) in steps.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.raw("{")
            writer.key("attempts", first: true)
            writer.int(step.attempts)
            if let durationMs = step.durationMs {
                writer.key("duration_ms")
                writer.double(durationMs)
            }
            if let finishedAt = step.finishedAt {
                writer.key("finished_at")
                writer.date(finishedAt)
            }
            if let message = step.message {
                writer.key("message")
                writer.string(message)
            }
            writer.key("name")
            writer.string(step.name)
            writer.key("position")
            writer.int(step.position)
            if let startedAt = step.startedAt {
                writer.key("started_at")
                writer.date(startedAt)
            }
            writer.key("status")
            writer.string(step.status.rawValue)
            writer.raw("}")
        }
        writer.raw("]")
        if let storeId {
            writer.key("store_id")
            writer.string(storeId)
        }
        writer.key("updated_at")
        writer.date(updatedAt)
        writer.raw("}")
        return writer.bytes
    }
}

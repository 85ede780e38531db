import Foundation
import KubeClient

/// Shows a job's progress while it is watched.
public protocol JobRenderer: AnyObject {
    func update(_ job: JSON)
    func finish(_ job: JSON)
}

extension JobRenderer {
    static func steps(_ job: JSON) -> [JSON] { job["steps"]?.arrayValue ?? [] }
}

/// For pipes and logs: one line per change seen, with a timestamp, nothing redrawn.
public final class PlainJobRenderer: JobRenderer {
    let console: Console
    private var seenStatus: String?
    private var seenSteps: [String: String] = [:]

    public init(console: Console) { self.console = console }

    public func update(_ job: JSON) {
        let id = Presentations.text(job["id"]), kind = Presentations.text(job["kind"]), status = Presentations.text(job["status"])
        // The job's own status first when it starts or retries, last when it ends: the order it happened in.
        let ended = ["succeeded", "failed", "cancelled"].contains(status)
        if !ended && status != seenStatus {
            seenStatus = status
            console.print("\(Self.clock()) \(kind) \(id) \(status)")
        }
        for step in Self.steps(job) {
            let name = Presentations.text(step["name"]), stepStatus = Presentations.text(step["status"])
            let attempts = step["attempts"]?.int ?? 0
            let key = "\(stepStatus) \(attempts)"
            guard seenSteps[name] != key, stepStatus != "pending" else { continue }
            seenSteps[name] = key
            var line = "\(Self.clock()) \(kind) \(id) step \(name) \(stepStatus)"
            if attempts > 1 || stepStatus == "retrying" { line += " (attempt \(attempts))" }
            if let message = step["message"]?.string, !message.isEmpty, stepStatus != "running" { line += ": \(message)" }
            console.print(line)
        }
        if status != seenStatus {
            seenStatus = status
            console.print("\(Self.clock()) \(kind) \(id) \(status)")
        }
    }

    public func finish(_ job: JSON) {}

    static func clock() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date())
    }
}

/// For a terminal: the step list redrawn in place, with a progress bar, attempts, elapsed time and the
/// last message of each step.
public final class LiveJobRenderer: JobRenderer {
    let console: Console
    let started = Date()
    private var drawnLines = 0

    public init(console: Console) { self.console = console }

    public func update(_ job: JSON) {
        let lines = render(job)
        var text = ""
        if drawnLines > 0 { text += "\u{1B}[\(drawnLines)A" }  // back to the top of the last drawing
        for line in lines { text += "\u{1B}[2K" + line + "\n" }
        console.write(text)
        drawnLines = lines.count
    }

    public func finish(_ job: JSON) {}

    func render(_ job: JSON) -> [String] {
        let terminal = console.terminal
        let width = terminal.width ?? 80
        let progress = job["progress"].flatMap { if case .number(let n) = $0 { n } else { nil } } ?? 0
        let barWidth = 24, filled = Int((progress * Double(barWidth)).rounded())
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled) + "]"
        let status = Presentations.text(job["status"])
        let elapsed = Humanize.duration(Date().timeIntervalSince(Humanize.parse(job["created_at"]?.string) ?? started))
        var lines = [Self.cut("\(Presentations.text(job["kind"])) \(Presentations.text(job["id"]).prefix(8))  \(paint(status, status))  \(bar) \(Int((progress * 100).rounded()))%  \(elapsed)", to: width, color: terminal.color)]
        let nameWidth = (Self.steps(job).map { Presentations.text($0["name"]).count }.max() ?? 0) + 2
        for step in Self.steps(job) {
            let stepStatus = Presentations.text(step["status"])
            let mark = switch stepStatus {
            case "succeeded": terminal.paint("✓", .green)
            case "failed", "cancelled": terminal.paint("✗", .red)
            case "running": terminal.paint("▸", .bold)
            case "retrying": terminal.paint("↻", .yellow)
            default: terminal.paint("·", .dim)
            }
            var line = "  \(mark) \(Presentations.text(step["name"]).padding(toLength: nameWidth, withPad: " ", startingAt: 0))\(stepStatus.padding(toLength: 10, withPad: " ", startingAt: 0))"
            let attempts = step["attempts"]?.int ?? 0
            if attempts > 1 { line += " attempt \(attempts)" }
            if let ms = step["duration_ms"], case .number(let value) = ms {
                line += " " + Humanize.duration(value / 1000)
            } else if stepStatus == "running", let since = Humanize.parse(step["started_at"]?.string) {
                line += " " + Humanize.duration(Date().timeIntervalSince(since))
            }
            // One line per step, whatever the message holds, so that a redraw moves up exactly as far.
            if let message = step["message"]?.string, !message.isEmpty {
                line += "  " + message.split(whereSeparator: \.isNewline).joined(separator: " ")
            }
            // Cut to the terminal so that a redraw moves up exactly as many lines as it drew.
            lines.append(Self.cut(line, to: width, color: terminal.color))
        }
        return lines
    }

    private func paint(_ text: String, _ status: String) -> String {
        switch status {
        case "succeeded": console.terminal.paint(text, .green)
        case "failed", "cancelled": console.terminal.paint(text, .red)
        case "retrying": console.terminal.paint(text, .yellow)
        default: text
        }
    }

    /// Cuts a line to `width` visible characters, not counting colour escapes.
    static func cut(_ line: String, to width: Int, color: Bool) -> String {
        var visible = 0, out = "", inEscape = false
        for character in line {
            if character == "\u{1B}" { inEscape = true }
            if inEscape {
                out.append(character)
                if character == "m" { inEscape = false }
                continue
            }
            if visible >= width - 1 { return out + (color ? "\u{1B}[0m" : "") }
            out.append(character)
            visible += 1
        }
        return out
    }
}

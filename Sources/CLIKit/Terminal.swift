import Foundation

/// What the CLI knows about where its output goes: whether standard output is a terminal, how wide it
/// is, whether colour is wanted (no-color.org: `NO_COLOR` set to anything disables it).
public struct Terminal: Sendable {
    public var isTerminal: Bool
    public var inputIsTerminal: Bool
    public var width: Int?
    public var color: Bool

    public init(isTerminal: Bool, inputIsTerminal: Bool = false, width: Int?, color: Bool) {
        self.isTerminal = isTerminal
        self.inputIsTerminal = inputIsTerminal
        self.width = width
        self.color = color
    }

    public static func current(environment: [String: String]) -> Terminal {
        let tty = isatty(STDOUT_FILENO) == 1
        var width: Int?
        if tty {
            var size = winsize()
            if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { width = Int(size.ws_col) }
        }
        if width == nil, let columns = environment["COLUMNS"].flatMap(Int.init), columns > 0, tty { width = columns }
        let color = tty && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
        return Terminal(isTerminal: tty, inputIsTerminal: isatty(STDIN_FILENO) == 1, width: tty ? (width ?? 80) : nil, color: color)
    }

    public enum Color: String { case red = "31", green = "32", yellow = "33", dim = "2", bold = "1" }

    public func paint(_ text: String, _ color: Color) -> String {
        self.color ? "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m" : text
    }
}

/// Standard output and standard error, swappable in tests.
public final class Console: @unchecked Sendable {
    public var terminal: Terminal
    private let writeOut: (String) -> Void
    private let writeErr: (String) -> Void

    public init(terminal: Terminal, out: @escaping (String) -> Void, err: @escaping (String) -> Void) {
        self.terminal = terminal
        self.writeOut = out
        self.writeErr = err
    }

    public static func standard(environment: [String: String]) -> Console {
        Console(terminal: .current(environment: environment),
                out: { FileHandle.standardOutput.write(Data($0.utf8)) },
                err: { FileHandle.standardError.write(Data($0.utf8)) })
    }

    public func print(_ line: String = "") { writeOut(line + "\n") }
    public func write(_ text: String) { writeOut(text) }
    public func error(_ line: String) { writeErr(line + "\n") }
}

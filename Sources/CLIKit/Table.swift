/// Columns of text, aligned, shrunk to the terminal's width when it has one: the widest column gives up
/// characters first (cut with "…"), and no column goes below its header or six characters.
public struct Table: Sendable {
    public var headers: [String]
    public var rows: [[String]]

    public init(headers: [String], rows: [[String]]) {
        self.headers = headers
        self.rows = rows
    }

    public func render(width: Int?) -> String {
        var widths = headers.indices.map { column in
            ([headers[column]] + rows.map { column < $0.count ? $0[column] : "" }).map(\.count).max() ?? 0
        }
        let gap = 3
        if let width {
            let floor = headers.map { max($0.count, 6) }
            var total = widths.reduce(0, +) + gap * max(0, widths.count - 1)
            while total > width {
                guard let widest = widths.indices.filter({ widths[$0] > floor[$0] }).max(by: { widths[$0] < widths[$1] }) else { break }
                widths[widest] -= 1
                total -= 1
            }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (column, width) in widths.enumerated() {
                let cell = column < cells.count ? cells[column] : ""
                let fitted = cell.count > width ? String(cell.prefix(max(0, width - 1))) + "…" : cell
                parts.append(column == widths.count - 1 ? fitted : fitted.padding(toLength: width, withPad: " ", startingAt: 0))
            }
            var text = parts.joined(separator: String(repeating: " ", count: gap))
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}

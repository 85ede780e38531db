/// A Prometheus histogram for one label set: cumulative buckets, sum and count, and their exposition.
/// Shared by the gateway's and the workers' `/metrics`.
public struct Histogram: Sendable {
    public let bounds: [Double]
    public private(set) var buckets: [Int]
    public private(set) var sum = 0.0
    public private(set) var count = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        self.buckets = Array(repeating: 0, count: bounds.count)
    }

    public mutating func observe(_ value: Double) {
        for (index, bound) in bounds.enumerated() where value <= bound { buckets[index] += 1 }
        sum += value
        count += 1
    }

    /// The `_bucket`, `_sum` and `_count` lines of metric `name` with `labels` (already formatted).
    public func render(_ name: String, labels: String) -> String {
        var out = ""
        for (index, bound) in bounds.enumerated() {
            out += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(buckets[index])\n"
        }
        out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(count)\n"
        out += "\(name)_sum{\(labels)} \(sum)\n"
        out += "\(name)_count{\(labels)} \(count)\n"
        return out
    }
}

/// The Prometheus text format's escaping of a label value (backslash, double quote, newline).
public func prometheusLabelValue(_ value: String) -> String {
    value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        .replacingOccurrences(of: "\n", with: "\\n")
}

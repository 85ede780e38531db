/// Thrown by `withTimeout` when the operation did not finish in time.
public struct TimeoutError: Error, CustomStringConvertible, Sendable {
    public let seconds: Double
    public let operation: String

    public init(seconds: Double, operation: String) {
        self.seconds = seconds
        self.operation = operation
    }

    public var description: String { "\(operation) did not finish within \(formatSeconds(seconds))" }
}

/// Runs `body` and cancels it when `seconds` pass. The body must react to cancellation (every await in
/// this project does), so the caller gets control back shortly after the deadline.
public func withTimeout<T: Sendable>(
    seconds: Double,
    operation: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimeoutError(seconds: seconds, operation: operation)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        return first
    }
}

extension Duration {
    /// The duration in seconds, for settings and metrics kept as Double.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// "1.5s", "250ms": how durations read in logs and messages.
public func formatSeconds(_ seconds: Double) -> String {
    if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
    if seconds == seconds.rounded() { return "\(Int(seconds))s" }
    return "\((seconds * 10).rounded() / 10)s"
}

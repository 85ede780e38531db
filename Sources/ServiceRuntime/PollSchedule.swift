/// How long to wait between looks at something that changes on its own, such as workloads becoming
/// ready: soon at first, because most waits are short and a fixed long interval adds up to a whole
/// interval of latency to each of them; then less often, so that a long wait does not flood the API
/// server. The waits grow as `Backoff`'s ceilings do, but each is jittered by only ±10%: a poll wants
/// its rhythm kept, just not in lockstep with the many stores started together.
public struct PollSchedule: Sendable, Hashable {
    public let growth: Backoff

    public init(first: Double, growth: Double = 1.5, longest: Double) {
        precondition(first > 0)
        self.growth = Backoff(initialDelay: first, multiplier: growth, maxDelay: longest)
    }

    /// The nominal wait after look `look` (1-based), before jitter.
    public func nominal(after look: Int) -> Double {
        growth.ceiling(attempt: look)
    }

    public func wait(after look: Int) -> Double {
        var generator = SystemRandomNumberGenerator()
        return nominal(after: look) * Double.random(in: 0.9...1.1, using: &generator)
    }

    /// Sleeps for the wait after `look`; cancellation ends it early by throwing.
    public func sleep(after look: Int) async throws {
        try await Task.sleep(for: .seconds(wait(after: look)))
    }
}

/// How long to wait between looks at something that changes on its own, such as workloads becoming
/// ready: soon at first, because most waits are short and a fixed long interval adds up to a whole
/// interval of latency to each of them; then less often, so that a long wait does not flood the API
/// server. Each wait is jittered by ±10% so that many stores started together do not poll in lockstep.
public struct PollSchedule: Sendable, Hashable {
    public var first: Double
    public var growth: Double
    public var longest: Double

    public init(first: Double, growth: Double = 1.5, longest: Double) {
        precondition(first > 0 && growth >= 1 && longest >= first)
        self.first = first
        self.growth = growth
        self.longest = longest
    }

    /// The nominal wait after look `look` (1-based), before jitter.
    public func nominal(after look: Int) -> Double {
        let raw = first * pow(growth, Double(max(0, look - 1)))
        return raw.isFinite ? min(longest, raw) : longest
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

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

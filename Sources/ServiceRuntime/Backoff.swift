/// Capped exponential backoff with full jitter: attempt n waits a uniformly random time in
/// [0, min(maxDelay, initialDelay * multiplier^(n-1))]. Full jitter spreads retries of many clients
/// that failed together, so they do not hammer a recovering server in lockstep.
public struct Backoff: Sendable, Hashable, Codable {
    public var initialDelay: Double
    public var multiplier: Double
    public var maxDelay: Double

    public init(initialDelay: Double, multiplier: Double = 2, maxDelay: Double) {
        precondition(initialDelay >= 0 && multiplier >= 1 && maxDelay >= initialDelay)
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maxDelay = maxDelay
    }

    /// The upper bound of the wait before retry `attempt` (1-based: the wait after the first failure).
    public func ceiling(attempt: Int) -> Double {
        let exponent = Double(max(0, attempt - 1))
        let raw = initialDelay * pow(multiplier, exponent)
        return raw.isFinite ? min(maxDelay, raw) : maxDelay
    }

    /// A jittered delay for retry `attempt`, never below `minimum` (for example a server's Retry-After).
    public func delay(attempt: Int, minimum: Double = 0) -> Double {
        var generator = SystemRandomNumberGenerator()
        return delay(attempt: attempt, minimum: minimum, using: &generator)
    }

    public func delay<G: RandomNumberGenerator>(attempt: Int, minimum: Double = 0, using generator: inout G) -> Double {
        let ceiling = ceiling(attempt: attempt)
        let jittered = ceiling > 0 ? Double.random(in: 0...ceiling, using: &generator) : 0
        return max(minimum, jittered)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

import Foundation
import Logging
import Redis

/// A token bucket per tenant in Redis, for mutating requests. One script reads, refills and takes a
/// token atomically by Redis' clock, so every gateway replica shares one bucket per tenant.
struct RateLimiter: Sendable {
    let redis: RedisClient
    let prefix: String
    let burst: Int
    let perMinute: Int
    let logger: Logger

    static let script = RedisScript(name: "token-bucket", source: """
        local capacity = tonumber(ARGV[1])
        local per_ms = tonumber(ARGV[2])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(state[1]) or capacity
        local at = tonumber(state[2]) or now
        tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
        local wait = 0
        if tokens >= 1 then
            tokens = tokens - 1
        else
            wait = math.ceil((1 - tokens) / per_ms)
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
        redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_ms) + 1000)
        return wait
        """)

    /// Takes a token or throws 429 with `Retry-After` (whole seconds, rounded up).
    ///
    /// When Redis cannot answer, the request is let through (and logged): Postgres is the source of
    /// truth and the sweeper dispatches what Redis missed, so a Redis outage should slow stores down,
    /// not refuse them; the store limit still holds, since Postgres enforces it.
    func take(tenant: UUID) async throws {
        let perMs = Double(perMinute) / 60_000
        let wait: Int
        do {
            wait = try await redis.run(Self.script, keys: ["\(prefix):ratelimit:\(tenant.uuidString.lowercased())"], arguments: [burst, perMs]).int ?? 0
        } catch {
            logger.warning("rate limiter unavailable; letting the request through", metadata: ["error": "\(error.message)"])
            return
        }
        guard wait > 0 else { return }
        let seconds = max(1, (wait + 999) / 1000)
        throw Problem(
            .tooManyRequests, "rate-limited", "Too Many Requests",
            detail: "this tenant sends mutating requests faster than \(perMinute) per minute (bursts of \(burst)); retry in \(seconds) s",
            headers: ["Retry-After": String(seconds)]
        )
    }
}

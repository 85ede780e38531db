import Foundation
import Logging
import Postgres
import ServiceLifecycle

extension Gateway {
    /// Deletes idempotency keys past their TTL; returns how many. Safe from every replica at once.
    @discardableResult
    public func purgeExpiredIdempotencyKeys() async throws -> Int {
        try await postgres.query("""
            WITH gone AS (DELETE FROM idempotency_keys WHERE expires_at < now() RETURNING 1) SELECT count(*) AS n FROM gone
            """).first!.decode("n", as: Int.self)
    }
}

/// The gateway's background chores, run beside the HTTP server: today, purging expired idempotency
/// keys once a minute so the table does not grow without bound.
public struct GatewayMaintenance: Service {
    let gateway: Gateway
    let interval: Duration

    public init(gateway: Gateway, interval: Duration = .seconds(60)) {
        self.gateway = gateway
        self.interval = interval
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let purged = try await gateway.purgeExpiredIdempotencyKeys()
                if purged > 0 { gateway.logger.debug("purged expired idempotency keys", metadata: ["count": "\(purged)"]) }
            } catch {
                gateway.logger.warning("could not purge expired idempotency keys", metadata: ["error": "\(error)"])
            }
            // Sleep in short steps so SIGTERM is not held up by a minute-long sleep.
            let until = ContinuousClock.now + interval
            while ContinuousClock.now < until && !Task.isShuttingDownGracefully && !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
    }
}

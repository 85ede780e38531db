import Foundation
import Jobs
import Logging
import Postgres
import ServiceRuntime

/// The reads nearly every request makes — its token, and the job a client polls — coalesced: while one
/// query is running, the lookups of requests that arrive meanwhile gather and go together in the next
/// one (`GroupCommit`). Nothing is cached: every request is answered from a query that began after it
/// arrived, so a revoked token fails on its next request and a poll never sees an older job than the
/// one before it. Under load, many requests share each round trip to Postgres.
final class CoalescedReads: Sendable {
    /// Who a token belongs to; nil for an unknown, revoked or expired token.
    let tokens: GroupCommit<[UInt8], Caller?>
    /// A job with its steps; nil for a missing job.
    let jobs: GroupCommit<UUID, JobSnapshot?>

    init(postgres: PostgresPool, store: JobStore, logger: Logger) {
        tokens = GroupCommit { digests in
            let hexes = digests.map(Self.hex)
            let rows = try await postgres.query("""
                SELECT encode(k.token_hash, 'hex') AS digest, k.id AS token_id, t.id AS tenant_id, t.role,
                       k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' AS stale
                FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id
                WHERE k.token_hash IN (SELECT decode(h, 'hex') FROM unnest(\(PostgresTextArray(hexes))::text[]) AS h)
                  AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
                """).rows
            var callers: [String: Caller] = [:]
            var stale: [UUID] = []
            for row in rows {
                let caller = Caller(tenantID: try row.decode("tenant_id"), tokenID: try row.decode("token_id"),
                                    isAdmin: try row.decode("role", as: String.self) == "admin")
                callers[try row.decode("digest", as: String.self)] = caller
                if try row.decode("stale", as: Bool.self) { stale.append(caller.tokenID) }
            }
            // last_used_at is for people deciding which tokens to revoke; a minute's precision serves
            // them and spares a write per request: a token is written at most once a minute, so few
            // batches carry one. A failed write does not fail the requests.
            if !stale.isEmpty {
                do {
                    try await postgres.query("""
                        UPDATE api_tokens SET last_used_at = now()
                        WHERE id = ANY(\(PostgresTextArray(stale.map(\.uuidString)))::uuid[])
                        """)
                } catch {
                    logger.warning("cannot record when tokens were last used", metadata: ["error": "\(error)"])
                }
            }
            return hexes.map { callers[$0] }
        }
        jobs = GroupCommit { ids in
            let found = try await store.snapshots(ids)
            return ids.map { found[$0] }
        }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

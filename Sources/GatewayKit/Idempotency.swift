import Foundation
import Hummingbird
import Postgres
import ServiceRuntime

/// Idempotency keys after the IETF httpapi Idempotency-Key draft, in Postgres. The first request with a
/// key inserts an `in_flight` row under a fresh owner token (the primary key decides the winner among
/// concurrent requests). The handler seals the key with its response in the same transaction as the
/// change the key protects (`Seal`), conditional on still owning it: the change and the stored response
/// commit together or not at all, so no error between them can leave a change whose key a retry finds
/// abandoned, and a request whose key was taken over (its gateway stalled past the lock) cannot commit
/// its change at all. A repeat with the same request replays the stored response, with another request
/// gets 422, and while the first is still running gets 409. A refused request (4xx/5xx) drops its row,
/// if it still owns it, so a refusal writes nothing and the client may retry with the same key.
struct IdempotencyKeys: Sendable {
    let postgres: PostgresPool
    let ttl: Double
    /// How long an in-flight row is honoured; a gateway that died mid-request frees its key after this.
    let lockSeconds: Double = 60

    static let header = HTTPFields.Element.Name("Idempotency-Key")!

    enum Begin: Sendable {
        /// This request owns the key under `owner` until it seals or abandons it.
        case proceed(owner: UUID)
        case replay(APIResult)
    }

    static func validate(_ key: String) throws {
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x20...0x7e).contains($0) }) else {
            throw Problem(.badRequest, "bad-idempotency-key", "Bad Idempotency-Key", detail: "Idempotency-Key must be 1 to 255 printable ASCII characters")
        }
    }

    func begin(tenant: UUID, key: String, requestHash: [UInt8]) async throws -> Begin {
        for _ in 0..<3 {
            let owner = UUID()
            let owned = try await postgres.query("""
                INSERT INTO idempotency_keys (tenant_id, key, request_hash, status, locked_until, expires_at, owner)
                VALUES (\(tenant), \(key), \(requestHash), 'in_flight',
                        now() + make_interval(secs => \(lockSeconds)), now() + make_interval(secs => \(ttl)), \(owner))
                ON CONFLICT (tenant_id, key) DO UPDATE
                    SET request_hash = EXCLUDED.request_hash, status = 'in_flight', locked_until = EXCLUDED.locked_until,
                        owner = EXCLUDED.owner,
                        expires_at = EXCLUDED.expires_at, response_status = NULL, response_body = NULL,
                        response_location = NULL, created_at = now()
                    WHERE idempotency_keys.expires_at < now()
                       OR (idempotency_keys.status = 'in_flight' AND idempotency_keys.locked_until < now())
                RETURNING 1 AS owned
                """).first
            if owned != nil { return .proceed(owner: owner) }
            guard let row = try await postgres.query("""
                SELECT request_hash, status, response_status, response_body, response_location
                FROM idempotency_keys WHERE tenant_id = \(tenant) AND key = \(key)
                """).first else { continue }  // the first request was refused and let the key go: try again
            guard try row.decode("request_hash", as: [UInt8].self) == requestHash else {
                throw Problem(.unprocessableContent, "idempotency-key-reused", "Idempotency-Key reused",
                              detail: "this Idempotency-Key was used for a different request; use a new key")
            }
            guard try row.decode("status", as: String.self) == "complete" else {
                throw Problem(.conflict, "idempotency-in-flight", "Request in progress",
                              detail: "a request with this Idempotency-Key is still being handled; retry later")
            }
            return .replay(APIResult(
                status: HTTPResponse.Status(code: try row.decode("response_status")),
                body: Data((try row.decode("response_body", as: String.self)).utf8),
                location: try row.decode("response_location")
            ))
        }
        throw Problem(.conflict, "idempotency-in-flight", "Request in progress", detail: "a request with this Idempotency-Key is being handled; retry later")
    }

    /// Stores the response and ends the request's hold on the key, on the handler's connection, inside
    /// its transaction; throws 409 when the key is no longer this request's (taken over after the lock
    /// ran out), which rolls the handler's change back.
    func seal(tenant: UUID, key: String, owner: UUID, result: APIResult, on connection: PostgresConnection) async throws {
        guard try await connection.query("""
            UPDATE idempotency_keys SET status = 'complete', response_status = \(Int(result.status.code)),
                   response_body = \(String(decoding: result.body, as: UTF8.self)), response_location = \(result.location)
            WHERE tenant_id = \(tenant) AND key = \(key) AND owner = \(owner) AND status = 'in_flight'
            RETURNING 1 AS sealed
            """).first != nil else {
            throw Problem(.conflict, "idempotency-in-flight", "Request in progress",
                          detail: "this request took longer than \(Int(lockSeconds))s and another request with its Idempotency-Key took over; nothing was changed by this one")
        }
    }

    /// Drops the key of a request that was refused, unless another request owns it by now.
    func abandon(tenant: UUID, key: String, owner: UUID) async {
        _ = try? await postgres.query("""
            DELETE FROM idempotency_keys WHERE tenant_id = \(tenant) AND key = \(key) AND owner = \(owner) AND status = 'in_flight'
            """)
    }
}

/// What a handler calls, inside the transaction of its change, with the response it will give: for a
/// request with an Idempotency-Key the response is stored in that transaction (see `IdempotencyKeys`);
/// without a key it only hands the response back.
struct Seal: Sendable {
    let keys: IdempotencyKeys
    let claim: (tenant: UUID, key: String, owner: UUID)?
    let sealed = LockedState(false)

    @discardableResult
    func callAsFunction(_ result: APIResult, on connection: PostgresConnection) async throws -> APIResult {
        if let claim {
            try await keys.seal(tenant: claim.tenant, key: claim.key, owner: claim.owner, result: result, on: connection)
            sealed.withLock { $0 = true }
        }
        return result
    }

    var isSealed: Bool { sealed.withLock { $0 } }
    /// The request carries an Idempotency-Key: its response must be sealed in its transaction.
    var isKeyed: Bool { claim != nil }
}

/// A handler's answer before it becomes a Response, so that it can be stored and replayed verbatim.
struct APIResult: Sendable {
    var status: HTTPResponse.Status
    var body: Data
    var location: String?

    init<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, location: String? = nil) {
        self.status = status
        self.body = JSONCoding.encode(value)
        self.location = location
    }

    init(status: HTTPResponse.Status, body: Data, location: String?) {
        self.status = status
        self.body = body
        self.location = location
    }

    func response(replayed: Bool = false) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let location { headers[.location] = location }
        if replayed { headers[HTTPFields.Element.Name("Idempotent-Replayed")!] = "true" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

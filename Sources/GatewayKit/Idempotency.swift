import Foundation
import Hummingbird
import Postgres

/// Idempotency keys after the IETF httpapi Idempotency-Key draft, in Postgres. The first request with a
/// key inserts an `in_flight` row (the primary key decides the winner among concurrent requests); it
/// stores its response when done. A repeat with the same request replays that response, with another
/// request gets 422, and while the first is still running gets 409. A refused request (4xx/5xx) drops
/// its row, so a refusal writes nothing and the client may retry with the same key.
struct IdempotencyKeys: Sendable {
    let postgres: PostgresPool
    let ttl: Double
    /// How long an in-flight row is honoured; a gateway that died mid-request frees its key after this.
    let lockSeconds: Double = 60

    static let header = HTTPFields.Element.Name("Idempotency-Key")!

    enum Begin: Sendable {
        case proceed
        case replay(APIResult)
    }

    static func validate(_ key: String) throws {
        guard (1...255).contains(key.count), key.allSatisfy({ $0.isASCII && !$0.isNewline }) else {
            throw Problem(.badRequest, "bad-idempotency-key", "Bad Idempotency-Key", detail: "Idempotency-Key must be 1 to 255 printable ASCII characters")
        }
    }

    func begin(tenant: UUID, key: String, requestHash: [UInt8]) async throws -> Begin {
        for _ in 0..<3 {
            let owned = try await postgres.query("""
                INSERT INTO idempotency_keys (tenant_id, key, request_hash, status, locked_until, expires_at)
                VALUES (\(tenant), \(key), \(requestHash), 'in_flight',
                        now() + make_interval(secs => \(lockSeconds)), now() + make_interval(secs => \(ttl)))
                ON CONFLICT (tenant_id, key) DO UPDATE
                    SET request_hash = EXCLUDED.request_hash, status = 'in_flight', locked_until = EXCLUDED.locked_until,
                        expires_at = EXCLUDED.expires_at, response_status = NULL, response_body = NULL,
                        response_location = NULL, created_at = now()
                    WHERE idempotency_keys.expires_at < now()
                       OR (idempotency_keys.status = 'in_flight' AND idempotency_keys.locked_until < now())
                RETURNING 1 AS owned
                """).first
            if owned != nil { return .proceed }
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

    func complete(tenant: UUID, key: String, result: APIResult) async throws {
        try await postgres.query("""
            UPDATE idempotency_keys SET status = 'complete', response_status = \(Int(result.status.code)),
                   response_body = \(String(decoding: result.body, as: UTF8.self)), response_location = \(result.location)
            WHERE tenant_id = \(tenant) AND key = \(key)
            """)
    }

    func abandon(tenant: UUID, key: String) async {
        _ = try? await postgres.query("DELETE FROM idempotency_keys WHERE tenant_id = \(tenant) AND key = \(key) AND status = 'in_flight'")
    }
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

import Foundation
import Hummingbird
import Logging
import NIOHTTP1
import Postgres
import ServiceRuntime

/// The outermost middleware: gives every request an ID (the client's `X-Request-ID` when it is
/// sensible, else a new one), turns every error into problem+json, puts `X-Request-ID` on every
/// response, and records the request in the metrics under its route pattern.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let metrics: GatewayMetrics
    let routes: RouteTable

    static let requestIDHeader = HTTPFields.Element.Name("X-Request-ID")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var context = context
        context.requestID = Self.acceptable(request.headers[Self.requestIDHeader]) ?? Self.newRequestID()
        context.logger[metadataKey: "request_id"] = "\(context.requestID)"
        var response: Response
        var aborted = false
        do {
            if let refusal = Self.refusePath(request.uri.path) { throw refusal }
            response = try await next(request, context)
        } catch let problem as Problem {
            response = problem.response(instance: request.uri.path, requestID: context.requestID)
        } catch let error as HTTPError {
            // The router answers 404 for a known path with another method; RFC 9110 says 405 with Allow.
            let allowed = error.status == .notFound ? routes.methods(for: request.uri.path) : []
            if !allowed.isEmpty {
                response = Problem(.methodNotAllowed, "method-not-allowed", "Method Not Allowed",
                                   detail: "\(request.uri.path) accepts \(allowed.joined(separator: ", "))", headers: ["Allow": allowed.joined(separator: ", ")])
                    .response(instance: request.uri.path, requestID: context.requestID)
            } else {
                response = Self.problem(for: error).response(instance: request.uri.path, requestID: context.requestID)
            }
        } catch is RequestBodyTimeout {
            response = Problem(.requestTimeout, "body-timeout", "Request Timeout",
                               detail: "the request body did not arrive within the server's body timeout", headers: ["Connection": "close"])
                .response(instance: request.uri.path, requestID: context.requestID)
        } catch let error where ClientAbort.isAbort(error) {
            // The client left mid-request: nobody reads this answer, and it is not the server's failure.
            aborted = true
            context.logger.debug("client closed the request", metadata: ["error": "\(error)", "route": "\(context.endpointPath ?? "?")"])
            response = Response(status: ClientAbort.clientClosedRequest, headers: [.connection: "close"])
        } catch let error as HTTPParserError {
            // Broken framing inside a body (bad chunk sizes): the client's error; the connection closes.
            response = Problem.malformed("the request body is not valid HTTP/1.1 (\(error))")
                .response(instance: request.uri.path, requestID: context.requestID)
            response.headers[.connection] = "close"
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "route": "\(context.endpointPath ?? "?")"])
            response = Problem(.internalServerError, "internal", "Internal Server Error", detail: "the request failed; quote the request ID when reporting it")
                .response(instance: request.uri.path, requestID: context.requestID)
        }
        response.headers[Self.requestIDHeader] = context.requestID
        let elapsed = ContinuousClock.now - started
        let route = context.endpointPath ?? "NotFound"
        metrics.request(method: request.method.rawValue, route: route, status: Int(response.status.code), seconds: elapsed.inSeconds)
        if !aborted {
            // A streamed body (the event stream) is written after this returns; a client that leaves
            // then is counted as an abort too.
            let metrics = metrics, method = request.method.rawValue, logger = context.logger
            response.body = ClientAbort.observe(response.body) { error in
                metrics.clientAborted(method: method, route: route)
                logger.debug("client left during the response", metadata: ["error": "\(error)", "route": "\(route)"])
            }
        }
        return response
    }

    /// Paths whose percent-decoding holds a control byte (NUL among them) or is not UTF-8 name no
    /// resource: a file lookup through C would end the name at a NUL and serve another file than the
    /// one the extension announces (`/app.js%00.html`).
    /// A path that starts with `//` (also as `/%2f`) names no resource either, and would be answered
    /// by the file middleware's directory redirect with `Location: //name/`, which a browser reads as
    /// another host.
    static func refusePath(_ path: String) -> Problem? {
        let bad = Problem.malformed("the path holds a control character or is not valid UTF-8 once percent-decoded")
        let doubled = Problem.malformed("the path starts with an empty segment")
        guard path.unicodeScalars.allSatisfy({ $0.value > 0x1f && $0.value != 0x7f }) else { return bad }
        if path.hasPrefix("//") { return doubled }
        guard path.contains("%") else { return nil }
        guard let decoded = path.removingPercentEncoding else { return bad }
        guard decoded.unicodeScalars.allSatisfy({ $0.value > 0x1f && $0.value != 0x7f }) else { return bad }
        return decoded.hasPrefix("//") ? doubled : nil
    }

    /// A random UUID, lowercased. Drawn from `SystemRandomNumberGenerator` (getrandom): Foundation's
    /// `UUID()` opens /dev/urandom on every call on Linux, which showed in the gateway's profile.
    static func newRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = (raw[6] & 0x0f) | 0x40  // version 4
            raw[8] = (raw[8] & 0x3f) | 0x80  // RFC 4122 variant
            let uuid = raw.load(as: uuid_t.self)
            return UUID(uuid: uuid).uuidString.lowercased()
        }
    }

    /// Only short, printable IDs are echoed, so a client cannot inject headers or flood logs.
    static func acceptable(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.count),
              value.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "-_.:".unicodeScalars.contains($0) }),
              value.allSatisfy(\.isASCII) else { return nil }
        return value
    }

    static func problem(for error: HTTPError) -> Problem {
        switch error.status {
        case .notFound: Problem(.notFound, "not-found", "Not Found", detail: "no such route")
        case .methodNotAllowed: Problem(.methodNotAllowed, "method-not-allowed", "Method Not Allowed", detail: "this route does not accept that method")
        case .contentTooLarge: Problem(.contentTooLarge, "too-large", "Body too large", detail: "request bodies are limited to \(JSONBody.maxBytes) bytes")
        default: Problem(error.status, "http-\(error.status.code)", error.status.reasonPhrase, detail: error.body ?? error.status.reasonPhrase)
        }
    }
}

/// Authenticates `Authorization: Bearer <token>` against the stored digests; anything else is 401.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let reads: CoalescedReads

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.count > 7,
              header.prefix(7).lowercased() == "bearer " else {
            throw Problem.unauthorized()
        }
        let token = String(header.dropFirst(7).drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
        guard token.hasPrefix(APIToken.prefix), token.count < 200 else { throw Problem.unauthorized("the token is not valid") }
        guard let caller = try await reads.tokens.submit(APIToken.hash(token)) else {
            throw Problem.unauthorized("the token is not valid, has expired or was revoked")
        }
        var context = context
        context.caller = caller
        context.logger[metadataKey: "tenant_id"] = "\(caller.tenantID)"
        return try await next(request, context)
    }
}

/// The router's routes as path templates, filled once the router is built, to tell "no such path"
/// (404) from "not with this method" (405). Matched on Hummingbird's own path elements, so `{id}`
/// parameters, `*` and `**` match as the router matches them.
final class RouteTable: Sendable {
    private let routes = LockedState([(pattern: [RouterPath.Element], method: String)]())

    func set<Context>(_ router: Router<Context>) {
        let entries = router.routes.map { (pattern: $0.path.components, method: $0.method.rawValue) }
        routes.withLock { $0 = entries }
    }

    func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/")[...]
        let table = routes.withLock { $0 }
        return Set(table.filter { Self.matches($0.pattern[...], segments) }.map(\.method)).sorted()
    }

    static func matches(_ pattern: ArraySlice<RouterPath.Element>, _ segments: ArraySlice<Substring>) -> Bool {
        guard let first = pattern.first else { return segments.isEmpty }
        if first.description == "**" { return true }
        guard let segment = segments.first, first ~= segment else { return false }
        return matches(pattern.dropFirst(), segments.dropFirst())
    }
}

/// Headers for the dashboard's files: no framing, no sniffing, no referrer leaking store IDs, and a
/// content security policy that allows only the gateway's own scripts and API.
struct DashboardHeadersMiddleware: RouterMiddleware {
    typealias Context = GatewayContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        // The dashboard's files are small and whole: Hummingbird's FileMiddleware mis-answers some
        // ranges (suffix ranges, ranges past the end: a negative Content-Length, or a body longer
        // than announced, which desynchronises a keep-alive connection), so ranges are not offered.
        if !request.uri.path.hasPrefix("/api/"), request.headers[.range] != nil {
            var head = request.head
            head.headerFields[.range] = nil
            head.headerFields[HTTPFields.Element.Name("If-Range")!] = nil
            request = Request(head: head, body: request.body)
        }
        var response = try await next(request, context)
        guard !request.uri.path.hasPrefix("/api/") else { return response }
        response.headers[.acceptRanges] = "none"
        response.headers[HTTPFields.Element.Name("Content-Security-Policy")!] =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        response.headers[HTTPFields.Element.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPFields.Element.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPFields.Element.Name("X-Frame-Options")!] = "DENY"
        return response
    }
}

import Foundation
import KubeClient
import ServiceRuntime

/// The gateway's public HTTP API, and nothing else: the CLI never talks to Postgres, Redis or the cluster.
///
/// Retries: a request that certainly never reached the server is sent again whatever it is. Beyond
/// that, reads, and changes that carry an `Idempotency-Key`, are sent again after a dropped connection,
/// a 502/503/504, a 429 whose Retry-After is short, or the gateway's "same key still in progress"
/// (409 `idempotency-in-flight`), with capped, jittered backoff: the key makes the second send replay the
/// first one's answer, so a flaky network never creates two stores.
public final class APIClient: @unchecked Sendable {
    public let target: Target
    let transport: any HTTPTransport
    let log: (String) -> Void
    let verbose: Bool
    public var requestTimeout: Double = 30
    var attempts = 6
    /// How long a "same Idempotency-Key still in progress" answer is waited out (the gateway takes over a
    /// stalled key after 60 s).
    var inFlightPatience: Double = 70
    var backoff = Backoff(initialDelay: 0.5, multiplier: 2, maxDelay: 4)
    var sleep: (Double) -> Void = { seconds in Thread.sleep(forTimeInterval: seconds) }

    public init(target: Target, transport: any HTTPTransport, verbose: Bool = false, log: @escaping (String) -> Void) {
        self.target = target
        self.transport = transport
        self.verbose = verbose
        self.log = log
    }

    public struct Reply: Sendable {
        public var status: Int
        public var json: JSON
        public var headers: [String: String]
    }

    /// One API call; a non-2xx answer throws a `CLIError` made of the problem+json it carried.
    ///
    /// `deadline` bounds everything, retries included: each request gets at most the time left, and
    /// when none is left the call ends as `timedOut`.
    @discardableResult
    public func call(
        _ method: String, _ path: String, query: [(String, String)] = [], body: JSON? = nil,
        idempotencyKey: String? = nil, headers extra: [(String, String)] = [], secretResponse: Bool = false, deadline: Date? = nil
    ) throws(CLIError) -> Reply {
        var headers = [("Accept", "application/json"), ("User-Agent", "storefleet-cli/1")] + extra
        if let token = target.token { headers.append(("Authorization", "Bearer \(token)")) }
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        var bytes: [UInt8]?
        if let body {
            bytes = Array(body.serialized())
            headers.append(("Content-Type", "application/json"))
        }
        var request = HTTPRequest(method: method, url: url(path, query), headers: headers, body: bytes, timeout: requestTimeout)
        let replayable = method == "GET" || idempotencyKey != nil
        let started = Date()
        var attempt = 0
        func timedOut() -> CLIError {
            CLIError(.timedOut, "no answer from \(target.server) within the timeout (\(method) \(path))")
        }
        while true {
            attempt += 1
            if let deadline {
                let left = deadline.timeIntervalSinceNow
                guard left > 0 else { throw timedOut() }
                request.timeout = min(requestTimeout, left)
            }
            trace(request)
            let outcome = transport.send(request)
            var retryAfter: Double?
            switch outcome {
            case .failure(let failure):
                if verbose { log("* \(failure.message)") }
                if failure.timedOut, let deadline, deadline.timeIntervalSinceNow <= 0 { throw timedOut() }
                guard attempt < attempts, failure.neverSent || replayable else {
                    throw CLIError(.unreachable, "cannot reach \(target.server): \(failure.message)")
                }
            case .success(let response):
                trace(response, secret: secretResponse)
                let json = (try? JSON(parsing: Data(response.body))) ?? .null
                if (200..<300).contains(response.status) {
                    return Reply(status: response.status, json: json, headers: response.headers)
                }
                let error = Self.error(status: response.status, problem: json, requestID: response.header("X-Request-ID"))
                let transient = [502, 503, 504].contains(response.status) && replayable
                // The gateway holds a key in flight for up to 60 s before a retry may take it over: wait
                // that out rather than report a conflict for a change that is still being made.
                if response.status == 409 && error.problemType == "idempotency-in-flight" {
                    guard Date().timeIntervalSince(started) < inFlightPatience else {
                        throw CLIError(.failure, "the same request is still being handled after \(Int(inFlightPatience)) s; it may yet complete: look before retrying",
                                       requestID: error.requestID, problemType: error.problemType)
                    }
                    attempt = min(attempt, attempts - 1)
                    sleep(backoff.delay(attempt: attempt, minimum: 2))
                    continue
                }
                let header = response.header("Retry-After").flatMap(Double.init)
                // The rate limiter answers before anything is done, so even a change without a key may be re-sent.
                let throttled = response.status == 429 && (header ?? 1) <= 10
                guard attempt < attempts, transient || throttled else { throw error }
                retryAfter = header
            }
            var delay = backoff.delay(attempt: attempt, minimum: retryAfter ?? 0)
            if let deadline { delay = min(delay, max(0, deadline.timeIntervalSinceNow)) }
            if verbose { log("* retrying in \(String(format: "%.1f", delay)) s (attempt \(attempt + 1) of \(attempts))") }
            sleep(delay)
        }
    }

    func url(_ path: String, _ query: [(String, String)]) -> String {
        var url = target.server + path
        if !query.isEmpty {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            url += "?" + query.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&")
        }
        return url
    }

    /// A problem+json answer as one sentence: its detail, and each field's complaint for a 422.
    static func error(status: Int, problem: JSON, requestID: String?) -> CLIError {
        var message = problem["detail"]?.string ?? problem["title"]?.string ?? "the server answered \(status)"
        if let fields = problem["errors"]?.arrayValue, !fields.isEmpty {
            let parts = fields.compactMap { field -> String? in
                guard let name = field["field"]?.string, let text = field["message"]?.string else { return nil }
                return "\(name) \(text)"
            }
            if !parts.isEmpty { message = parts.joined(separator: "; ") }
        }
        if status == 401 { message += "; log in again (storefleet login) or check STOREFLEET_TOKEN" }
        var slug = problem["type"]?.string
        if let type = slug, let slash = type.lastIndex(of: "/") { slug = String(type[type.index(after: slash)...]) }
        return CLIError(ExitStatus.forHTTP(status), message, requestID: problem["request_id"]?.string ?? requestID, problemType: slug)
    }

    // MARK: --verbose

    func trace(_ request: HTTPRequest) {
        guard verbose else { return }
        log("> \(request.method) \(request.url)")
        for (name, value) in request.headers { log("> \(name): \(Self.redactedHeader(name, value))") }
        if let body = request.body { log("> " + String(decoding: body.prefix(2048), as: UTF8.self)) }
    }

    func trace(_ response: HTTPResponse, secret: Bool) {
        guard verbose else { return }
        log("< \(response.status)")
        for (name, value) in response.headers.sorted(by: { $0.key < $1.key }) { log("< \(name): \(value)") }
        if secret {
            log("< (body not shown: it holds a secret)")
        } else if !response.body.isEmpty {
            log("< " + String(decoding: response.body.prefix(2048), as: UTF8.self))
        }
    }

    /// A bearer token shown as its public prefix (the 10 characters the API lists), never the secret
    /// part; anything that is not a Storefleet token is not shown at all.
    static func redactedHeader(_ name: String, _ value: String) -> String {
        guard name.lowercased() == "authorization" else { return value }
        let token = value.hasPrefix("Bearer ") ? String(value.dropFirst(7)) : value
        guard token.hasPrefix("sfk_"), token.count > 20 else { return "Bearer (redacted)" }
        return "Bearer \(token.prefix(10))…(redacted)"
    }
}

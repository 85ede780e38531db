import CCurl
import Foundation
import ServiceRuntime
import Tracing

/// Timeouts and identity of API calls.
public struct KubeClientSettings: Sendable {
    public var connectTimeout: Double = 5
    public var requestTimeout: Double = 30
    /// The field manager of server-side apply: everything the worker owns is applied under this name.
    public var fieldManager = "storefleet"
    /// `fieldValidation` sent with server-side apply (helm 4 sends `Strict`); nil: the server's default.
    public var fieldValidation: String?
    /// Sent with every request, so API server audit logs (and kube-sim's fault rules) can tell the
    /// platform's own calls from helm's and kubectl's.
    public var userAgent = "storefleet/1"
    /// Concurrent connections to the API server.
    public var connections = 4
    /// How often one call is retried when the server answers 429, 5xx or not at all, with capped jittered
    /// backoff (never sooner than its Retry-After). A step makes many calls; retrying each one keeps a
    /// flaky API server from failing whole steps.
    public var retries = 4
    public var retryBackoff = Backoff(initialDelay: 0.2, multiplier: 2, maxDelay: 3)

    public init() {}
}

/// A Kubernetes API client over libcurl. Every call has a connect and a total timeout and runs off the
/// cooperative pool; connections are reused (each pooled curl handle keeps its connection alive); the
/// server's `Status` errors become typed `KubeError`s.
public final class KubeClient: Sendable {
    public let configuration: KubeConfiguration
    public let settings: KubeClientSettings
    /// Every call this client makes, for the worker's `/metrics`.
    public let metrics = KubeMetrics()
    private let handles: ResourcePool<CurlHandle>

    public init(configuration: KubeConfiguration, settings: KubeClientSettings = KubeClientSettings()) {
        _ = CurlHandle.globalInit
        self.configuration = configuration
        self.settings = settings
        self.handles = ResourcePool(capacity: settings.connections) { _ in CurlHandle() }
    }

    public struct Response: Sendable {
        public let status: Int
        public let body: [UInt8]
        public var json: JSON? { try? JSON(parsing: Data(body)) }
    }

    /// One API call; non-2xx answers throw `KubeError` with the server's reason and message. Retryable
    /// failures are retried here first (see `KubeClientSettings.retries`); a POST is retried only when
    /// the server answered, since a lost answer may hide a create that happened.
    public func send(
        _ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
        contentType: String = "application/json", headers: [String] = [], timeout: Double? = nil, retries: Int? = nil
    ) async throws(KubeError) -> Response {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await sendOnce(method, path, query: query, body: body, contentType: contentType, extraHeaders: headers, timeout: timeout)
            } catch {
                let answered = error.code != 0
                guard error.isRetryable, error.reason != .conflict, attempt <= (retries ?? settings.retries), method != "POST" || answered else { throw error }
                let delay = settings.retryBackoff.delay(attempt: attempt, minimum: min(error.retryAfter ?? 0, 10))
                do {
                    try await Task.sleep(for: .seconds(delay))
                } catch {
                    throw KubeError(reason: .transport, code: 0, message: "cancelled while retrying", request: "\(method) \(path)")
                }
            }
        }
    }

    private func sendOnce(
        _ method: String, _ path: String, query: [(String, String)], body: [UInt8]?,
        contentType: String, extraHeaders: [String], timeout: Double?
    ) async throws(KubeError) -> Response {
        let description = "\(method) \(path)"
        var url = configuration.server + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        var headers = ["Accept: application/json", "User-Agent: \(settings.userAgent)"]
        if body != nil { headers.append("Content-Type: \(contentType)") }
        headers += extraHeaders
        if case .token(let token, let file) = configuration.credentials {
            // A projected service-account token rotates; the file always holds the current one.
            let current = file.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }?.trimmingCharacters(in: .whitespacesAndNewlines)
            headers.append("Authorization: Bearer \(current ?? token)")
        }
        let request = CurlHandle.Request(
            method: method, url: url, headers: headers, body: body, configuration: configuration,
            connectTimeout: settings.connectTimeout, timeout: timeout ?? settings.requestTimeout
        )
        let handle: CurlHandle
        do {
            handle = try await handles.acquire(timeout: timeout ?? settings.requestTimeout)
        } catch {
            throw KubeError(reason: .transport, code: 0, message: "all \(settings.connections) API connections stayed busy", request: description)
        }
        defer { handles.release(handle) }
        let span = Telemetry.enabled ? Self.startCallSpan(method: method, path: path, query: query) : nil
        let started = ContinuousClock.now
        let outcome = await handle.perform(request)
        let seconds = (ContinuousClock.now - started).inSeconds
        switch outcome {
        case .failure(let message, let timedOut):
            metrics.record(method: method, path: path, query: query, code: timedOut ? "timeout" : "transport", seconds: seconds)
            span?.setStatus(SpanStatus(code: .error, message: timedOut ? "timed out" : message))
        case .success(let status, _, _):
            metrics.record(method: method, path: path, query: query, code: "\(status)", seconds: seconds)
            span?.attributes["http.response.status_code"] = status
            if status >= 400 { span?.setStatus(SpanStatus(code: .error)) }
        }
        span?.end()
        switch outcome {
        case .failure(let message, let timedOut):
            throw KubeError(reason: timedOut ? .timeout : .transport, code: 0, message: message, request: description)
        case .success(let status, let responseBody, let retryAfterHeader):
            guard (200..<300).contains(status) else {
                let parsed = try? JSON(parsing: Data(responseBody))
                let isStatus = parsed?["kind"]?.string == "Status"
                let statusObject = isStatus ? parsed : nil
                let reason = statusObject?["reason"]?.string.flatMap(KubeError.Reason.init(rawValue:)) ?? KubeError.reason(forCode: status)
                let message = statusObject?["message"]?.string ?? String(decoding: responseBody.prefix(500), as: UTF8.self)
                let retryAfter = retryAfterHeader ?? statusObject?.at("details", "retryAfterSeconds")?.int.map(Double.init)
                throw KubeError(reason: reason, code: status, message: message, retryAfter: retryAfter, request: description, fromAPIServer: isStatus)
            }
            return Response(status: status, body: responseBody)
        }
    }

    /// A client span for one API call: verb, resource, namespace and method, never a body or a name's
    /// secret contents (object names are in `url.path`, as in the API server's own audit log).
    private static func startCallSpan(method: String, path: String, query: [(String, String)]) -> any Span {
        let call = KubeMetrics.describe(method: method, path: path, query: query)
        let span = startSpan("k8s \(call.verb) \(call.resource)", ofKind: .client)
        span.attributes["http.request.method"] = method
        span.attributes["url.path"] = path
        span.attributes["k8s.verb"] = call.verb
        span.attributes["k8s.resource"] = call.resource
        if let namespace = KubeMetrics.namespace(of: path) { span.attributes["k8s.namespace.name"] = namespace }
        return span
    }

    /// GET an object or list.
    public func get(_ path: String, query: [(String, String)] = []) async throws(KubeError) -> JSON {
        try await decode(send("GET", path, query: query), path)
    }

    /// Server-side apply of `object` at its URL, under this client's field manager, with force (the
    /// worker owns these objects): re-applying converges instead of failing.
    @discardableResult
    public func apply(_ path: String, _ object: JSON) async throws(KubeError) -> JSON {
        try await decode(send(
            "PATCH", path, query: [("fieldManager", settings.fieldManager), ("force", "true")] + (settings.fieldValidation.map { [("fieldValidation", $0)] } ?? []),
            body: Array(object.serialized()), contentType: "application/apply-patch+yaml"
        ), path)
    }

    @discardableResult
    public func create(_ collectionPath: String, _ object: JSON) async throws(KubeError) -> JSON {
        try await decode(send("POST", collectionPath, body: Array(object.serialized())), collectionPath)
    }

    @discardableResult
    /// Deletes an object; false when it was already gone. With `uid`, only the object of that UID: one
    /// deleted and made again by someone else since it was read answers 409 Conflict instead.
    public func delete(_ path: String, uid: String? = nil) async throws(KubeError) -> Bool {
        var options: JSON = ["propagationPolicy": "Background"]
        if let uid { options["preconditions"] = ["uid": .string(uid)] }
        do {
            _ = try await send("DELETE", path, body: Array(options.serialized()))
            return true
        } catch where error.reason == .notFound {
            return false
        }
    }

    private func decode(_ response: Response, _ path: String) throws(KubeError) -> JSON {
        guard let json = response.json else {
            throw KubeError(reason: .unknown, code: response.status, message: "the answer is not JSON", request: path)
        }
        return json
    }

    static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// One curl easy handle, used by one request at a time on its own queue. Reusing the handle keeps its
/// connection to the API server open between requests.
final class CurlHandle: @unchecked Sendable {
    static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    struct Request: Sendable {
        let method: String
        let url: String
        let headers: [String]
        let body: [UInt8]?
        let configuration: KubeConfiguration
        let connectTimeout: Double
        let timeout: Double
    }

    enum Outcome: Sendable {
        case success(status: Int, body: [UInt8], retryAfter: Double?)
        case failure(message: String, timedOut: Bool)
    }

    /// Collects the response body and the Retry-After header from curl's callbacks.
    final class Sink {
        var body: [UInt8] = []
        var retryAfter: Double?
    }

    private let queue = BlockingQueue(label: "storefleet.kube")
    private let handle: UnsafeMutableRawPointer?

    init() {
        handle = curl_easy_init()
    }

    deinit {
        if let handle { curl_easy_cleanup(handle) }
    }

    func perform(_ request: Request) async -> Outcome {
        await queue.run { self.performBlocking(request) }
    }

    private func performBlocking(_ request: Request) -> Outcome {
        guard let handle else { return .failure(message: "libcurl could not create a handle", timedOut: false) }
        // Reset clears options but keeps the live connection and TLS session.
        curl_easy_reset(handle)
        let sink = Sink()
        let sinkPointer = Unmanaged.passRetained(sink)
        defer { sinkPointer.release() }
        var headerList: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { headerList = curl_slist_append(headerList, header) }
        defer { curl_slist_free_all(headerList) }

        sf_curl_set_string(handle, CURLOPT_URL, request.url)
        sf_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        sf_curl_set_slist(handle, CURLOPT_HTTPHEADER, headerList)
        sf_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        sf_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000))
        sf_curl_set_long(handle, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
        sf_curl_set_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        if let body = request.body {
            sf_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
            body.withUnsafeBytes { raw in
                _ = sf_curl_set_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
        }
        let configuration = request.configuration
        if configuration.insecureSkipTLSVerify {
            sf_curl_set_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
            sf_curl_set_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
        } else if let ca = configuration.certificateAuthority {
            ca.withUnsafeBytes { _ = sf_curl_set_blob(handle, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) }
        }
        if case .clientCertificate(let certificate, let key) = configuration.credentials {
            certificate.withUnsafeBytes { _ = sf_curl_set_blob(handle, CURLOPT_SSLCERT_BLOB, $0.baseAddress, $0.count) }
            sf_curl_set_string(handle, CURLOPT_SSLCERTTYPE, "PEM")
            key.withUnsafeBytes { _ = sf_curl_set_blob(handle, CURLOPT_SSLKEY_BLOB, $0.baseAddress, $0.count) }
            sf_curl_set_string(handle, CURLOPT_SSLKEYTYPE, "PEM")
        }
        sf_curl_set_write_function(handle, CURLOPT_WRITEFUNCTION) { data, size, count, user in
            let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            let length = size * count
            if let data { sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length)) }
            return length
        }
        sf_curl_set_pointer(handle, CURLOPT_WRITEDATA, sinkPointer.toOpaque())
        sf_curl_set_write_function(handle, CURLOPT_HEADERFUNCTION) { data, size, count, user in
            let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            let length = size * count
            if let data {
                let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
                if line.lowercased().hasPrefix("retry-after:") {
                    sink.retryAfter = Double(line.dropFirst("retry-after:".count).trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
            return length
        }
        sf_curl_set_pointer(handle, CURLOPT_HEADERDATA, sinkPointer.toOpaque())

        let code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            let message = String(cString: curl_easy_strerror(code))
            let timedOut = code == CURLE_OPERATION_TIMEDOUT
            return .failure(
                message: timedOut ? "no answer from \(configuration.server) within \(formatSeconds(request.timeout)) (\(message))" : "\(configuration.server): \(message)",
                timedOut: timedOut
            )
        }
        return .success(status: sf_curl_response_code(handle), body: sink.body, retryAfter: sink.retryAfter)
    }
}

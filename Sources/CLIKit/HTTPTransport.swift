import CCurl
import Foundation

/// One HTTP exchange as the CLI sends it.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    /// The whole exchange's limit, in seconds (connecting included).
    public var timeout: Double

    public init(method: String, url: String, headers: [(String, String)] = [], body: [UInt8]? = nil, timeout: Double = 30) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Why no answer came back. `neverSent` means the request certainly did not reach the server (the
/// connection was refused or the name did not resolve), so even a non-idempotent request may be sent again.
public struct TransportFailure: Error, Sendable {
    public var message: String
    public var neverSent: Bool
    public var timedOut: Bool
}

/// What carries requests: libcurl in the binary, a scripted fake in unit tests.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) -> Result<HTTPResponse, TransportFailure>
    /// A streamed response (Server-Sent Events): `onData` gets each chunk as it arrives and returns false
    /// to stop. The transfer also ends when nothing at all arrives for `idleTimeout` seconds.
    func stream(_ request: HTTPRequest, idleTimeout: Double, onData: @escaping ([UInt8]) -> Bool) -> Result<HTTPResponse, TransportFailure>
}

/// HTTP over libcurl. The CLI is a short-lived, synchronous program: each call blocks its one thread,
/// which is all a command does while it waits.
public final class CurlTransport: HTTPTransport, @unchecked Sendable {
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()
    private let connectTimeout: Double

    public init(connectTimeout: Double = 5) {
        _ = Self.globalInit
        self.connectTimeout = connectTimeout
    }

    public func send(_ request: HTTPRequest) -> Result<HTTPResponse, TransportFailure> {
        let sink = Sink(onData: nil)
        return perform(request, sink: sink, idleTimeout: nil)
    }

    public func stream(_ request: HTTPRequest, idleTimeout: Double, onData: @escaping ([UInt8]) -> Bool) -> Result<HTTPResponse, TransportFailure> {
        perform(request, sink: Sink(onData: onData), idleTimeout: idleTimeout)
    }

    final class Sink {
        let onData: (([UInt8]) -> Bool)?
        var body: [UInt8] = []
        var headers: [String: String] = [:]
        var stoppedByCaller = false

        init(onData: (([UInt8]) -> Bool)?) { self.onData = onData }
    }

    private func perform(_ request: HTTPRequest, sink: Sink, idleTimeout: Double?) -> Result<HTTPResponse, TransportFailure> {
        guard let handle = curl_easy_init() else {
            return .failure(TransportFailure(message: "libcurl could not create a handle", neverSent: true, timedOut: false))
        }
        defer { curl_easy_cleanup(handle) }
        let retained = Unmanaged.passRetained(sink)
        defer { retained.release() }
        var headerList: UnsafeMutablePointer<curl_slist>?
        for (name, value) in request.headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
        // curl adds "Expect: 100-continue" to large bodies; the gateway answers at once anyway.
        headerList = curl_slist_append(headerList, "Expect:")
        defer { curl_slist_free_all(headerList) }

        sf_curl_set_string(handle, CURLOPT_URL, request.url)
        sf_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        sf_curl_set_slist(handle, CURLOPT_HTTPHEADER, headerList)
        sf_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        sf_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000))
        sf_curl_set_long(handle, CURLOPT_TIMEOUT_MS, Int(max(request.timeout, 0.001) * 1000))
        // Only http and https, also on redirects (which the CLI does not follow anyway).
        sf_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        if let idleTimeout {
            // A stream that goes silent (the gateway sends a comment every 15 s) is a dead connection.
            sf_curl_set_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
            sf_curl_set_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, Int(idleTimeout)))
        }
        if let body = request.body {
            sf_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
            body.withUnsafeBytes { raw in
                _ = sf_curl_set_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
        }
        sf_curl_set_write_function(handle, CURLOPT_WRITEFUNCTION) { data, size, count, user in
            let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            let length = size * count
            guard let data else { return length }
            let bytes = Array(UnsafeRawBufferPointer(start: data, count: length))
            if let onData = sink.onData {
                if !onData(bytes) {
                    sink.stoppedByCaller = true
                    return 0
                }
            } else {
                sink.body.append(contentsOf: bytes)
            }
            return length
        }
        sf_curl_set_pointer(handle, CURLOPT_WRITEDATA, retained.toOpaque())
        sf_curl_set_write_function(handle, CURLOPT_HEADERFUNCTION) { data, size, count, user in
            let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            let length = size * count
            guard let data else { return length }
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
            if line.hasPrefix("HTTP/") {
                sink.headers = [:]  // a new response (after a 100 Continue)
            } else if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
                sink.headers[name] = value
            }
            return length
        }
        sf_curl_set_pointer(handle, CURLOPT_HEADERDATA, retained.toOpaque())

        let code = curl_easy_perform(handle)
        let status = sf_curl_response_code(handle)
        if code == CURLE_OK || (code == CURLE_WRITE_ERROR && sink.stoppedByCaller) {
            return .success(HTTPResponse(status: status, headers: sink.headers, body: sink.body))
        }
        let message = String(cString: curl_easy_strerror(code))
        let neverSent = code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY
        let timedOut = code == CURLE_OPERATION_TIMEDOUT
        return .failure(TransportFailure(message: message, neverSent: neverSent && status == 0, timedOut: timedOut))
    }
}

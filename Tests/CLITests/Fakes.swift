import Foundation
@testable import CLIKit

/// A transport that answers from a script and remembers every request, for tests without a server.
final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
    enum Step {
        case answer(HTTPResponse)
        case fail(TransportFailure)
        /// A streamed answer: these chunks, then the end of the response.
        case stream([String], status: Int = 200)
    }

    private let lock = NSLock()
    private var steps: [Step]
    private(set) var requests: [HTTPRequest] = []
    /// Answers for GET /api/jobs/{id}, one per read (the last repeats).
    var jobSnapshots: [String] = []

    init(_ steps: [Step] = []) { self.steps = steps }

    private func next(_ request: HTTPRequest) -> Step? {
        lock.lock()
        defer { lock.unlock() }
        requests.append(request)
        if request.url.contains("/api/jobs/"), !jobSnapshots.isEmpty {
            let body = jobSnapshots.count > 1 ? jobSnapshots.removeFirst() : jobSnapshots[0]
            return .answer(HTTPResponse(status: 200, body: Array(body.utf8)))
        }
        return steps.isEmpty ? nil : steps.removeFirst()
    }

    func send(_ request: HTTPRequest) -> Result<HTTPResponse, TransportFailure> {
        switch next(request) {
        case .answer(let response)?: .success(response)
        case .fail(let failure)?: .failure(failure)
        case .stream?, nil: .failure(TransportFailure(message: "no scripted answer", neverSent: true, timedOut: false))
        }
    }

    func stream(_ request: HTTPRequest, idleTimeout: Double, onData: @escaping ([UInt8]) -> Bool) -> Result<HTTPResponse, TransportFailure> {
        switch next(request) {
        case .stream(let chunks, let status)?:
            for chunk in chunks where !onData(Array(chunk.utf8)) { break }
            return .success(HTTPResponse(status: status))
        case .answer(let response)?:
            _ = onData(response.body)
            return .success(response)
        case .fail(let failure)?: return .failure(failure)
        case nil: return .failure(TransportFailure(message: "no scripted answer", neverSent: true, timedOut: false))
        }
    }

    func header(_ name: String, of index: Int) -> String? {
        requests[index].headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

func json(_ status: Int, _ text: String, headers: [String: String] = [:]) -> ScriptedTransport.Step {
    .answer(HTTPResponse(status: status, headers: headers, body: Array(text.utf8)))
}

let dropped = ScriptedTransport.Step.fail(TransportFailure(message: "Connection reset by peer", neverSent: false, timedOut: false))
let refused = ScriptedTransport.Step.fail(TransportFailure(message: "Couldn't connect to server", neverSent: true, timedOut: false))

func client(_ transport: ScriptedTransport, token: String? = "sfk_test-token-123456789") -> APIClient {
    let client = APIClient(target: Target(server: "http://127.0.0.1:1", token: token), transport: transport) { _ in }
    client.sleep = { _ in }
    return client
}

/// A console whose output the test reads.
final class CapturedConsole: @unchecked Sendable {
    final class Buffer: @unchecked Sendable {
        var out = ""
        var err = ""
    }

    let buffer = Buffer()
    let console: Console
    var out: String { buffer.out }
    var err: String { buffer.err }

    init() {
        let buffer = buffer
        console = Console(terminal: Terminal(isTerminal: false, width: nil, color: false),
                          out: { buffer.out += $0 }, err: { buffer.err += $0 })
    }
}

import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1

/// A client that went away mid-request is not a server failure: it is counted under 499 (nginx's
/// "client closed request") and logged at debug, never as a 500 with an error line.
enum ClientAbort {
    static func isAbort(_ error: any Error) -> Bool {
        switch error {
        case let error as HTTPParserError: error == .invalidEOFState
        case let error as IOError: [ECONNRESET, EPIPE, ETIMEDOUT].contains(error.errnoCode)
        case let error as ChannelError: [.ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed, .eof].contains(error)
        case is NIOAsyncWriterError, is CancellationError: true
        default: false
        }
    }

    static let clientClosedRequest = HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request")

    /// Wraps a streaming body so that failures while writing it (after the middleware has returned)
    /// are seen and counted.
    static func observe(_ body: ResponseBody, onAbort: @escaping @Sendable (any Error) -> Void) -> ResponseBody {
        guard body.contentLength == nil else { return body }  // keep Hummingbird's ByteBuffer fast path
        return ResponseBody { writer in
            do {
                try await body.write(writer)
            } catch {
                if isAbort(error) { onAbort(error) }
                throw error
            }
        }
    }
}

/// Releases a stream slot when the response body closure is dropped, whether or not it ever ran.
final class StreamSlot: Sendable {
    let release: @Sendable () -> Void
    init(release: @escaping @Sendable () -> Void) { self.release = release }
    deinit { release() }
}

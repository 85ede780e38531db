import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Raised into the request-body stream when a body has not fully arrived in time.
struct RequestBodyTimeout: Error {}

/// Placed in front of NIO's HTTP decoder, so that the guard can tell a quiet keep-alive connection
/// (no bytes: the idle timeout's business) from a request head that is arriving too slowly (bytes but
/// no head yet: the header timeout's). After the decoder, both look the same: nothing.
final class ByteArrival: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Told directly (both handlers run on the channel's event loop): an event up the pipeline
    /// would cost an allocation on every read.
    let owner: ConnectionGuard

    init(owner: ConnectionGuard) { self.owner = owner }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner.bytesArrived()
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension ByteArrival: Sendable {}

/// The HTTP edge's defences for one connection, where Hummingbird has none. Installed through
/// `HTTP1Channel.Configuration.additionalChannelHandlers`, so it sits after NIO's decoder and before
/// Hummingbird's connection-state handler:
/// - a whole-body deadline: a client that trickles its body (one byte just inside the idle timeout,
///   forever) gets 408 and the connection is closed;
/// - protocol errors (oversized headers, control bytes in the request line, broken framing) answered
///   as problem+json with a request ID (431 for oversized headers, 400 otherwise), not a bare 400;
/// - a response that cannot drain (a client that stopped reading, or vanished) closes the connection
///   after `writeStallTimeout`: the idle timeout does not run while a response is being written;
/// - a client that half-closes during an event stream has left: the connection closes at once, so
///   its stream slot is freed without waiting for a write to fail.
/// - a request head must be complete `headerTimeout` after its first byte (slowloris): 408 otherwise.
/// Idle keep-alive connections are Hummingbird's own idle timeout (`GATEWAY_IDLE_TIMEOUT`), which
/// also bounds a head whose bytes trickle in, but at the idle timeout's length.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let headerTimeout: TimeAmount
    let bodyTimeout: TimeAmount
    let writeStallTimeout: TimeAmount
    let maxHeaderBytes: Int
    let logger: Logger
    let metrics: GatewayMetrics?

    private var requestOpen = false   // head read, response .end not yet written
    private var readingBody = false   // head read, request .end not yet read
    private var streaming = false     // the response in progress is text/event-stream
    private var answered = false      // a protocol error was answered: drop everything after it
    private var bodyTimedOut = false
    private var closeAfterResponse = false  // an Upgrade or CONNECT request: the decoder reads no further
    // Timers are armed at the end of a read (channelReadComplete), not per request part: a request
    // whose head (and body) came in one read, nearly all of them, never schedules one.
    private var headStartedAt: NIODeadline?  // the first byte of a head not yet decoded
    private var bodyStartedAt: NIODeadline?
    private var headTimer: Scheduled<Void>?
    private var bodyTimer: Scheduled<Void>?
    private var stallTimer: Scheduled<Void>?
    private var lingerTimer: Scheduled<Void>?
    private var pendingError: HTTPParserError?  // a pipelined request failed to parse while a response was open

    init(headerTimeout: TimeAmount, bodyTimeout: TimeAmount, writeStallTimeout: TimeAmount, maxHeaderBytes: Int, logger: Logger, metrics: GatewayMetrics? = nil) {
        self.metrics = metrics
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.writeStallTimeout = writeStallTimeout
        self.maxHeaderBytes = maxHeaderBytes
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Hummingbird adds its own handlers after the decoder; this one goes before it.
        try? context.pipeline.syncOperations.addHandler(ByteArrival(owner: self), position: .first)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        for timer in [headTimer, bodyTimer, stallTimer, lingerTimer] { timer?.cancel() }
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if answered || bodyTimedOut { return }  // the stream is dead; don't feed it
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            headStartedAt = nil
            if let headTimer {
                headTimer.cancel()
                self.headTimer = nil
            }
            requestOpen = true
            // NIO's decoder stops parsing at a request that asks to switch protocols (Upgrade) or to
            // tunnel (CONNECT), leaving whatever follows unread: the next request on this connection
            // would hang. The gateway switches to nothing, so such a request is answered and the
            // connection closed, and a proxy in front cannot have a pooled connection poisoned.
            if head.method == .connect || head.headerFields[.upgrade] != nil { closeAfterResponse = true }
            readingBody = true
            bodyStartedAt = .now()
        case .body:
            break
        case .end:
            readingBody = false
            bodyStartedAt = nil
            if let bodyTimer {
                bodyTimer.cancel()
                self.bodyTimer = nil
            }
        }
        context.fireChannelRead(data)
    }

    /// From `ByteArrival`, before the decoder sees the bytes. The first bytes of a request head start
    /// its clock; later ones do not extend it. Bytes while a body is still arriving (after an early
    /// answer, say a 401) are that body's.
    func bytesArrived() {
        if headStartedAt == nil, !requestOpen, !readingBody, !answered, !closeAfterResponse { headStartedAt = .now() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        if readingBody, !bodyTimedOut, bodyTimer == nil, let started = bodyStartedAt {
            bodyTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: started + bodyTimeout) { [self] in
                guard readingBody else { return }
                bodyTimedOut = true
                // Ends Hummingbird's inbound stream with this error: the handler's `for try await` over
                // request.body throws it (answer 408); if nobody reads the body, the drain loop throws and
                // Hummingbird closes the connection.
                context.fireErrorCaught(RequestBodyTimeout())
            }
        }
        if let started = headStartedAt, headTimer == nil, !requestOpen, !answered, !closeAfterResponse {
            headTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: started + headerTimeout) { [self] in
                headTimer = nil
                guard !requestOpen, !answered, headStartedAt != nil else { return }
                answer(.timeout, context: context)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if answered || pendingError != nil { return }  // follow-on errors (dataReceivedInErrorState, ...)
        guard let parseError = error as? HTTPParserError, !readingBody else {
            // Mid-body errors and I/O errors go to Hummingbird: the body iterator throws them.
            context.fireErrorCaught(error)
            return
        }
        if requestOpen {
            pendingError = parseError  // answer once the current response has ended
            return
        }
        answer(parseError, context: context)
    }

    /// Why a request is answered here, before any route sees it.
    private enum Refusal {
        case parse(HTTPParserError)
        case timeout
    }

    private func answer(_ parseError: HTTPParserError, context: ChannelHandlerContext) {
        answer(.parse(parseError), context: context)
    }

    private func answer(_ refusal: Refusal, context: ChannelHandlerContext) {
        answered = true
        headTimer?.cancel()
        headTimer = nil
        if case .parse(.invalidEOFState) = refusal {  // client hung up mid-head: nobody to answer
            context.close(promise: nil)
            return
        }
        let status: HTTPResponse.Status
        let slug: String, title: String, detail: String
        switch refusal {
        case .timeout:
            status = .requestTimeout
            (slug, title, detail) = ("header-timeout", "Request Timeout", "the request line and headers did not arrive within the server's header timeout")
        case .parse(.headerOverflow):
            status = .requestHeaderFieldsTooLarge
            (slug, title, detail) = ("headers-too-large", "Request Header Fields Too Large", "the request line and headers are limited to \(maxHeaderBytes) bytes")
        case .parse(let parseError):
            status = .badRequest
            (slug, title, detail) = ("malformed", "Malformed request", "the request is not valid HTTP/1.1 (\(parseError))")
        }
        let requestID = RequestIDMiddleware.newRequestID()
        let body = ByteBuffer(bytes: JSONCoding.encode(Problem.Body(
            type: Problem.typeBase + slug, title: title, status: Int(status.code), detail: detail,
            instance: nil, requestId: requestID, errors: nil)))
        var head = HTTPResponse(status: status)
        head.headerFields[.contentType] = "application/problem+json"
        head.headerFields[.contentLength] = "\(body.readableBytes)"
        head.headerFields[.connection] = "close"
        head.headerFields[RequestIDMiddleware.requestIDHeader] = requestID
        // Debug, not info: a client can send these as fast as it likes; /metrics counts them.
        logger.debug("request refused at the edge", metadata: ["request_id": "\(requestID)", "reason": "\(refusal)", "status": "\(status.code)"])
        metrics?.edgeRefused(slug)
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(Self.wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        // FIN after the response rather than an immediate close: closing with unread input makes the
        // kernel send RST, which can destroy the response before the client reads it.
        context.close(mode: .output, promise: nil)
        lingerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) {
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        // A client that half-closes during an event stream has left (allowRemoteHalfClosure is on in
        // Hummingbird, so NIO would otherwise keep writing until the peer's RST).
        if let event = event as? ChannelEvent, event == .inputClosed, requestOpen, !readingBody, streaming {
            context.close(promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stallTimer?.cancel()
            stallTimer = nil
        } else if stallTimer == nil {
            // Slow reader / vanished peer: the response cannot drain; Hummingbird's idle timeout does not
            // run while a response is being written.
            stallTimer = context.eventLoop.assumeIsolated().scheduleTask(in: writeStallTimeout) { [metrics] in
                metrics?.edgeRefused("write-stall")
                context.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch Self.unwrapOutboundIn(data) {
        case .head(var head):
            if head.status.kind != .informational {
                streaming = head.headerFields[.contentType]?.hasPrefix("text/event-stream") ?? false
            }
            if closeAfterResponse, head.status.kind != .informational {
                head.headerFields[.connection] = "close"
                context.write(Self.wrapOutboundOut(.head(head)), promise: promise)
            } else {
                context.write(data, promise: promise)
            }
        case .body:
            context.write(data, promise: promise)
        case .end:
            requestOpen = false
            streaming = false
            if bodyTimedOut || closeAfterResponse {
                context.writeAndFlush(data, promise: promise)
                context.close(mode: .output, promise: nil)
                lingerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) { context.close(promise: nil) }
            } else if let pendingError {
                context.write(data, promise: promise)
                answer(pendingError, context: context)
            } else {
                context.write(data, promise: promise)
            }
        }
    }
}

@available(*, unavailable)
extension ConnectionGuard: Sendable {}

extension Gateway {
    /// The HTTP/1.1 server the gateway runs: idle timeout, header limits, the guard.
    public static func httpServer(_ edge: EdgeSettings, logger: Logger, metrics: GatewayMetrics? = nil) -> HTTPServerBuilder {
        .http1(configuration: .init(
            additionalChannelHandlers: [ConnectionGuard(
                headerTimeout: .milliseconds(Int64(edge.headerTimeout * 1000)), bodyTimeout: .milliseconds(Int64(edge.bodyTimeout * 1000)), writeStallTimeout: .milliseconds(Int64(edge.writeStallTimeout * 1000)),
                maxHeaderBytes: edge.maxHeaderBytes, logger: logger, metrics: metrics
            )],
            idleTimeout: .milliseconds(Int64(edge.idleTimeout * 1000)),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: edge.maxHeaderBytes, maxHeaderListSize: edge.maxHeaderBytes, maxHeaderFieldCount: 100)
        ))
    }
}

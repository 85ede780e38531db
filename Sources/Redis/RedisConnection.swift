import CHiredis
import Foundation
import ServiceRuntime

#if canImport(Glibc)
import Glibc
#endif

/// One hiredis connection. Every hiredis call runs on the connection's own serial queue, off the
/// cooperative pool, with socket timeouts so that no reply can hang a caller. After an I/O error or a
/// timeout the connection is closed and reopened on next use; reopening after failures waits with
/// capped, jittered backoff so that many clients do not stampede a restarting server.
public final class RedisConnection: @unchecked Sendable {
    private struct Reconnect {
        var failures = 0
        var notBefore: ContinuousClock.Instant?
        var lastError: String?
    }

    private let configuration: RedisConfiguration
    private let queue: BlockingQueue
    private let reconnect = LockedState(Reconnect())
    private static let backoff = Backoff(initialDelay: 0.05, multiplier: 2, maxDelay: 2)
    /// Touched only on `queue`.
    private var context: UnsafeMutablePointer<redisContext>?

    init(configuration: RedisConfiguration, label: String) {
        self.configuration = configuration
        self.queue = BlockingQueue(label: "storefleet.redis.\(label)")
    }

    deinit {
        if let context { redisFree(context) }
    }

    /// Sends one command and returns its reply; an error reply is thrown as `RedisError.server`.
    public func send(_ command: RedisCommand, timeout: Double? = nil) async throws(RedisError) -> RedisValue {
        let replies = try await run([command], timeout: timeout ?? configuration.commandTimeout)
        if case .error(let message) = replies[0] {
            throw RedisError(.server, message, command: command.name)
        }
        return replies[0]
    }

    /// Sends several commands in one write and reads their replies in order (pipelining). Error replies
    /// stay in place as `.error` values so the caller sees which command failed.
    public func pipeline(_ commands: [RedisCommand], timeout: Double? = nil) async throws(RedisError) -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        return try await run(commands, timeout: timeout ?? configuration.commandTimeout)
    }

    func close() async {
        await queue.run { () -> Void in self.dropContext() }
    }

    private func run(_ commands: [RedisCommand], timeout: Double) async throws(RedisError) -> [RedisValue] {
        try await waitForReconnectWindow(timeout: timeout)
        return try await queue.run { () throws(RedisError) -> [RedisValue] in
            try self.exchange(commands, timeout: timeout)
        }
    }

    private func waitForReconnectWindow(timeout: Double) async throws(RedisError) {
        let (notBefore, lastError) = reconnect.withLock { ($0.notBefore, $0.lastError) }
        guard let notBefore, notBefore > .now else { return }
        if notBefore - .now > .seconds(timeout) {
            throw RedisError(.connectionFailed, "reconnecting after: \(lastError ?? "an earlier failure")")
        }
        do {
            try await Task.sleep(until: notBefore)
        } catch {
            throw RedisError(.connectionFailed, "cancelled while waiting to reconnect")
        }
    }

    // MARK: - On the queue

    private func exchange(_ commands: [RedisCommand], timeout: Double) throws(RedisError) -> [RedisValue] {
        let context = try connected()
        setTimeout(context, seconds: timeout)
        for command in commands {
            let status = withArgv(command.arguments) { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            guard status == REDIS_OK else { throw ioFailure(context, command: command) }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for command in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                throw ioFailure(context, command: command)
            }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.value(of: reply))
            freeReplyObject(raw)
        }
        return replies
    }

    private func connected() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        if let context { return context }
        do {
            let opened = try open()
            context = opened
            reconnect.withLock { $0 = Reconnect() }
            return opened
        } catch {
            reconnect.withLock { state in
                state.failures += 1
                state.lastError = error.message
                state.notBefore = .now + .seconds(Self.backoff.delay(attempt: state.failures))
            }
            throw error
        }
    }

    private func open() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        guard let context = redisConnectWithTimeout(configuration.host, Int32(configuration.port), Self.timeval(configuration.connectTimeout))
        else { throw RedisError(.connectionFailed, "out of memory opening a connection") }
        if context.pointee.err != 0 {
            let message = Self.errorText(context)
            redisFree(context)
            throw RedisError(.connectionFailed, "\(configuration.host):\(configuration.port): \(message)")
        }
        var setup: [RedisCommand] = []
        if let password = configuration.password {
            if let username = configuration.username {
                setup.append(RedisCommand("AUTH", username, password))
            } else {
                setup.append(RedisCommand("AUTH", password))
            }
        }
        if configuration.database != 0 { setup.append(RedisCommand("SELECT", configuration.database)) }
        self.context = context
        do throws(RedisError) {
            for reply in try exchange(setup, timeout: configuration.connectTimeout) {
                if case .error(let message) = reply {
                    dropContext()
                    throw RedisError(.connectionFailed, "\(configuration.host):\(configuration.port): \(message)")
                }
            }
        } catch {
            dropContext()
            throw RedisError(.connectionFailed, error.message)
        }
        self.context = nil
        return context
    }

    /// Classifies an I/O failure and drops the connection: hiredis contexts are unusable after one.
    private func ioFailure(_ context: UnsafeMutablePointer<redisContext>, command: RedisCommand) -> RedisError {
        let code = errno
        let kind = context.pointee.err
        let message = Self.errorText(context)
        dropContext()
        // hiredis reports a socket timeout as an I/O error whose text is strerror(EAGAIN).
        if kind == REDIS_ERR_IO, code == EAGAIN || code == EWOULDBLOCK || message == String(cString: strerror(EAGAIN)) {
            return RedisError(.timedOut, "no reply in time", command: command.name)
        }
        return RedisError(.connectionLost, message, command: command.name)
    }

    private func dropContext() {
        if let context { redisFree(context) }
        context = nil
    }

    private func setTimeout(_ context: UnsafeMutablePointer<redisContext>, seconds: Double) {
        _ = redisSetTimeout(context, Self.timeval(seconds))
    }

    private static func timeval(_ seconds: Double) -> Glibc.timeval {
        let whole = Int(seconds.rounded(.down))
        return Glibc.timeval(tv_sec: whole, tv_usec: Int((seconds - Double(whole)) * 1_000_000))
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "connection error" : text
    }

    private static func value(of reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let node = reply.pointee
        switch node.type {
        case REDIS_REPLY_STRING:
            guard let pointer = node.str else { return .bulk([]) }
            return .bulk(Array(UnsafeRawBufferPointer(start: pointer, count: Int(node.len))))
        case REDIS_REPLY_STATUS:
            return .status(node.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_ERROR:
            return .error(node.str.map { String(cString: $0) } ?? "ERR")
        case REDIS_REPLY_INTEGER:
            return .integer(Int(node.integer))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisValue] = []
            elements.reserveCapacity(Int(node.elements))
            for index in 0..<Int(node.elements) {
                if let element = node.element[index] { elements.append(value(of: element)) } else { elements.append(.null) }
            }
            return .array(elements)
        default:
            return .null
        }
    }
}

/// Lays arguments out as argv/argvlen arrays, so binary values need no escaping.
private func withArgv<R>(
    _ arguments: [[UInt8]],
    _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
) -> R {
    let buffers = arguments.map { bytes -> UnsafeMutablePointer<CChar> in
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
        bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress { UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: bytes.count) }
        }
        return buffer
    }
    defer { buffers.forEach { $0.deallocate() } }
    var pointers: [UnsafePointer<CChar>?] = buffers.map { UnsafePointer($0) }
    let lengths: [Int] = arguments.map(\.count)
    return pointers.withUnsafeMutableBufferPointer { argv in
        lengths.withUnsafeBufferPointer { lengths in
            body(Int32(arguments.count), argv.baseAddress!, lengths.baseAddress!)
        }
    }
}

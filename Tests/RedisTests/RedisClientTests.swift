import Foundation
import Redis
import ServiceRuntime
import Testing
import TestSupport

@Suite("Redis client against a real server")
struct RedisClientTests {
    let redis: RedisClient

    init() throws {
        redis = RedisClient(configuration: try RedisConfiguration(url: TestEnvironment.redisURL()))
    }

    @Test("arguments and replies are binary-safe")
    func binarySafe() async throws {
        let key = TestEnvironment.uniqueName("bin")
        let bytes: [UInt8] = Array(0...255) + Array("\r\n$3\r\nSET\r\n".utf8)
        try await redis.send("SET", key, bytes)
        #expect(try await redis.send("GET", key).bytes == bytes)
        let unicode = "ключ 🔑 \u{0} end"
        try await redis.send("SET", key, unicode)
        #expect(try await redis.send("GET", key).string == unicode)
        try await redis.send("DEL", key)
    }

    @Test("a pipeline returns replies in order, with an error reply left in its place")
    func pipelining() async throws {
        let counter = TestEnvironment.uniqueName("counter")
        let text = TestEnvironment.uniqueName("text")
        var commands = (0..<100).map { _ in RedisCommand("INCR", counter) }
        commands.append(RedisCommand("SET", text, "x"))
        commands.append(RedisCommand("INCR", text))
        commands.append(RedisCommand("GET", counter))
        let replies = try await redis.pipeline(commands)
        #expect(replies.prefix(100).map(\.int) == (1...100).map { Optional($0) })
        #expect(replies[100] == .status("OK"))
        guard case .error(let message) = replies[101] else {
            Issue.record("expected an error reply, got \(replies[101])")
            return
        }
        #expect(message.hasPrefix("ERR"))
        #expect(replies[102].int == 100)
        try await redis.send("DEL", counter, text)
    }

    @Test("a server error is thrown with the server's code and message")
    func serverErrors() async throws {
        let key = TestEnvironment.uniqueName("list")
        try await redis.send("LPUSH", key, "a")
        let error = await #expect(throws: RedisError.self) { try await redis.send("INCR", key) }
        #expect(error?.kind == .server)
        #expect(error?.serverCode == "WRONGTYPE")
        #expect(error?.isTransient == false)
        // The connection stays usable after an error reply.
        #expect(try await redis.send("LLEN", key).int == 1)
        try await redis.send("DEL", key)
    }

    @Test("scripts run by hash and are reloaded after Redis forgets them")
    func scripts() async throws {
        let script = RedisScript(name: "add", source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")
        let key = TestEnvironment.uniqueName("script")
        #expect(try await redis.run(script, keys: [key], arguments: [5]).int == 5)
        try await redis.send("SCRIPT", "FLUSH")
        #expect(try await redis.run(script, keys: [key], arguments: [2]).int == 7)
        try await redis.send("DEL", key)
    }

    @Test("a blocking move waits for an element and times out with nil when none comes")
    func blockingMove() async throws {
        let source = TestEnvironment.uniqueName("queue")
        let destination = TestEnvironment.uniqueName("processing")
        let blocking = redis.makeBlockingConnection(label: "test")
        let started = ContinuousClock.now
        #expect(try await blocking.blockingMove(from: source, to: destination, wait: 0.3) == nil)
        #expect(ContinuousClock.now - started >= .milliseconds(250))

        let waiter = Task { try await blocking.blockingMove(from: source, to: destination, wait: 5) }
        try await Task.sleep(for: .milliseconds(100))
        try await redis.send("LPUSH", source, "job-1")
        let moved = try await waiter.value
        #expect(moved.map { String(decoding: $0, as: UTF8.self) } == "job-1")
        #expect(try await redis.send("LRANGE", destination, 0, -1) == .array([.bulk(Array("job-1".utf8))]))
        #expect(try await redis.send("LLEN", source).int == 0)
        await blocking.close()
        try await redis.send("DEL", source, destination)
    }

    @Test("a command without a reply in time fails with a timeout, and the next command works")
    func commandTimeout() async throws {
        let key = TestEnvironment.uniqueName("empty")
        let error = await #expect(throws: RedisError.self) {
            try await redis.send(RedisCommand("BLPOP", key, 2), timeout: 0.2)
        }
        #expect(error?.kind == .timedOut)
        #expect(error?.isTransient == true)
        #expect(try await redis.send("PING") == .status("PONG"))
    }

    @Test("callers wait for a pooled connection rather than failing")
    func poolWaits() async throws {
        let small = RedisClient(configuration: RedisConfiguration(
            host: try RedisConfiguration(url: TestEnvironment.redisURL()).host,
            port: try RedisConfiguration(url: TestEnvironment.redisURL()).port,
            // What is tested is waiting instead of failing, not speed: the whole suite shares two cores.
            poolSize: 2, acquireTimeout: 60
        ))
        let key = TestEnvironment.uniqueName("waits")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<50 { group.addTask { try await small.send("INCR", key) } }
            try await group.waitForAll()
        }
        #expect(try await small.send("GET", key).int == 50)
        try await small.send("DEL", key)
        await small.shutdown()
    }
}

@Suite("Redis configuration")
struct RedisConfigurationTests {
    @Test("URLs carry host, port, credentials and database")
    func parsesURLs() throws {
        let full = try RedisConfiguration(url: "redis://user:p%40ss@cache.internal:6380/3")
        #expect(full.host == "cache.internal")
        #expect(full.port == 6380)
        #expect(full.username == "user")
        #expect(full.password == "p@ss")
        #expect(full.database == 3)
        let passwordOnly = try RedisConfiguration(url: "redis://:secret@127.0.0.1")
        #expect(passwordOnly.username == nil)
        #expect(passwordOnly.password == "secret")
        #expect(passwordOnly.port == 6379)
    }

    @Test("bad URLs are refused naming the variable, without echoing the value", arguments: [
        "http://127.0.0.1:6379", "redis://", "redis://host/notanumber", "not a url",
    ])
    func refusesBadURLs(_ text: String) {
        let error = #expect(throws: ConfigurationError.self) { try RedisConfiguration(url: text) }
        #expect(error?.variable == "REDIS_URL")
    }
}

@Suite("Redis client across a server restart", .serialized)
struct RedisRestartTests {
    @Test("commands work again after Redis restarts, and scripts are reloaded")
    func reconnects() async throws {
        try await withThrowawayServer(.redis) { server in
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.url))
        let script = RedisScript(name: "echo", source: "return ARGV[1]")
        #expect(try await redis.run(script, keys: [], arguments: ["a"]).string == "a")
        try await server.restart()
        // The first command may find the old connection dead; the client reconnects with backoff.
        let value = try await eventually(within: 10) { try await redis.run(script, keys: [], arguments: ["b"]).string }
        #expect(value == "b")

        try await server.stop()
        let error = await #expect(throws: RedisError.self) { try await redis.send("PING") }
        #expect(error?.isTransient == true)
        try await server.startAgain()
        let pong = try await eventually(within: 10) { try await redis.send("PING") }
        #expect(pong == .status("PONG"))
        await redis.shutdown()
        }
    }
}

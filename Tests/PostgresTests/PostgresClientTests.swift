import Foundation
@testable import Postgres
import Testing
import TestSupport

@Suite("Postgres client against a real server")
struct PostgresClientTests {
    let pool: PostgresPool

    init() throws {
        pool = PostgresPool(configuration: PostgresConfiguration(url: try TestEnvironment.databaseURL(), maxConnections: 4))
    }

    @Test("every supported type survives a round trip")
    func roundTripsEveryType() async throws {
        let id = UUID()
        let when = Date(timeIntervalSince1970: 1_790_000_000.123456)
        let bytes: [UInt8] = Array(0...255)
        let json = PostgresJSON(text: #"{"a": [1, 2, {"b": "c"}], "d": null}"#)
        let row = try #require(try await pool.query("""
            SELECT \("text value")::text AS text, \(Int16(-12))::int2 AS small, \(Int32(2_000_000_000))::int4 AS medium,
                   \(Int.max)::int8 AS big, \(true)::bool AS yes, \(false)::bool AS no, \(3.25)::float8 AS double,
                   \(when)::timestamptz AS moment, \(id)::uuid AS id, \(json)::jsonb AS document,
                   \(bytes)::bytea AS blob, \(String?.none)::text AS nothing, \(Int?.none)::int8 AS no_number,
                   \(PostgresTextArray(["a", "b c", "quote\"d", "back\\slash", "NULL", ""]))::text[] AS list,
                   \(Double.infinity)::float8 AS infinite
            """).first)
        #expect(try row.decode("text", as: String.self) == "text value")
        #expect(try row.decode("small", as: Int.self) == -12)
        #expect(try row.decode("medium", as: Int32.self) == 2_000_000_000)
        #expect(try row.decode("big", as: Int.self) == Int.max)
        #expect(try row.decode("yes", as: Bool.self) == true)
        #expect(try row.decode("no", as: Bool.self) == false)
        #expect(try row.decode("double", as: Double.self) == 3.25)
        #expect(try row.decode("infinite", as: Double.self) == .infinity)
        let moment = try row.decode("moment", as: Date.self)
        #expect(abs(moment.timeIntervalSince1970 - when.timeIntervalSince1970) < 0.000_001)
        #expect(try row.decode("id", as: UUID.self) == id)
        let document = try row.decode("document", as: PostgresJSON.self)
        struct Shape: Decodable, Equatable { let d: Int? }
        #expect(try document.decode(Shape.self) == Shape(d: nil))
        #expect(document.text.contains(#""b": "c""#))
        #expect(try row.decode("blob", as: [UInt8].self) == bytes)
        #expect(try row.decode("nothing", as: String?.self) == nil)
        #expect(try row.decode("no_number", as: Int?.self) == nil)
        #expect(try row.decode("list", as: PostgresTextArray.self).elements == ["a", "b c", "quote\"d", "back\\slash", "NULL", ""])
    }

    @Test("NULL into a non-optional and a missing column are decoding errors that name the column")
    func decodingErrorsNameTheColumn() async throws {
        let row = try #require(try await pool.query("SELECT NULL::text AS empty, 'x'::text AS word").first)
        let nullError = #expect(throws: PostgresError.self) { try row.decode("empty", as: String.self) }
        #expect(nullError?.kind == .decoding)
        #expect(nullError?.message.contains("empty") == true)
        let typeError = #expect(throws: PostgresError.self) { try row.decode("word", as: Int.self) }
        #expect(typeError?.message.contains("word") == true)
        #expect(throws: PostgresError.self) { try row.decode("absent", as: String.self) }
    }

    @Test("hostile strings are stored and read back unchanged", arguments: [
        "'; DROP TABLE users; --",
        "Robert'); DROP TABLE students;--",
        #"back\slash \\ and \' quote " double"#,
        "$1 $2 ? %s {{.}} ${HOME} `id`",
        "unicode: 日本語 العربية עברית 🛒🧾 e\u{301} \u{202E}reversed",
        "line\nbreak\r\ntab\t",
        String(repeating: "long-value-", count: 100_000),
    ])
    func hostileStrings(_ value: String) async throws {
        let table = TestEnvironment.uniqueName("hostile")
        try await pool.withConnection { connection in
            try await connection.runScript("CREATE TEMP TABLE \(table) (value text NOT NULL)")
            try await connection.query(PostgresQuery(sql: "INSERT INTO \(table) (value) VALUES ($1)", binds: [.text(value)]))
            let rows = try await connection.query(PostgresQuery(sql: "SELECT value, length(value) AS length FROM \(table) WHERE value = $1", binds: [.text(value)])).rows
            #expect(rows.count == 1)
            #expect(try rows.first?.decode("value", as: String.self) == value)
            #expect(try rows.first?.decode("length", as: Int.self) == value.unicodeScalars.count)
            try await connection.runScript("DROP TABLE \(table)")
        }
    }

    @Test("a transaction commits on success and rolls back on error")
    func transactions() async throws {
        let table = TestEnvironment.uniqueName("tx")
        try await pool.withConnection { try await $0.runScript("CREATE TABLE \(table) (value int)") }
        try await pool.transaction { connection in
            try await connection.query(PostgresQuery(sql: "INSERT INTO \(table) VALUES (1)"))
        }
        struct Abort: Error {}
        await #expect(throws: Abort.self) {
            try await pool.transaction { connection in
                try await connection.query(PostgresQuery(sql: "INSERT INTO \(table) VALUES (2)"))
                throw Abort()
            }
        }
        let values = try await pool.query(PostgresQuery(sql: "SELECT value FROM \(table) ORDER BY value")).rows.map { try $0.decode("value", as: Int.self) }
        #expect(values == [1])
        // A failed statement inside a transaction rolls the whole transaction back.
        await #expect(throws: PostgresError.self) {
            try await pool.transaction { connection in
                try await connection.query(PostgresQuery(sql: "INSERT INTO \(table) VALUES (3)"))
                try await connection.query("SELECT 1 / 0")
            }
        }
        let count = try await pool.query(PostgresQuery(sql: "SELECT count(*) AS n FROM \(table)")).first?.decode("n", as: Int.self)
        #expect(count == 1)
        try await pool.query(PostgresQuery(sql: "DROP TABLE \(table)"))
    }

    @Test("server errors carry SQLSTATE and the statement text, without parameter values")
    func serverErrors() async throws {
        let table = TestEnvironment.uniqueName("unique")
        try await pool.query(PostgresQuery(sql: "CREATE TABLE \(table) (name text PRIMARY KEY)"))
        try await pool.query(PostgresQuery(sql: "INSERT INTO \(table) VALUES ($1)", binds: [.text("secret-value")]))
        let error = await #expect(throws: PostgresError.self) {
            try await pool.query(PostgresQuery(sql: "INSERT INTO \(table) VALUES ($1)", binds: [.text("secret-value")]))
        }
        #expect(error?.kind == .server)
        #expect(error?.isUniqueViolation == true)
        #expect(error?.isTransient == false)
        #expect(error?.statement?.contains("INSERT INTO") == true)
        #expect(error?.statement?.contains("secret-value") == false)
        try await pool.query(PostgresQuery(sql: "DROP TABLE \(table)"))
    }

    @Test("a statement over its timeout is cancelled, and the pool keeps working")
    func statementTimeout() async throws {
        let started = ContinuousClock.now
        let error = await #expect(throws: PostgresError.self) {
            try await pool.query("SELECT pg_sleep(10)", timeout: 0.3)
        }
        #expect(error?.kind == .timedOut)
        #expect(error?.isTransient == true)
        // Far below the statement's 10 s: it was cancelled, not waited out (with room for a loaded machine).
        #expect(ContinuousClock.now - started < .seconds(8))
        let value = try await pool.query("SELECT 41 + 1 AS answer").first?.decode("answer", as: Int.self)
        #expect(value == 42)
        // The cancelled statement is no longer running on the server.
        let sleeping = try await pool.query("SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(10)' AND state = 'active'").first?.decode("n", as: Int.self)
        #expect(sleeping == 0)
    }

    @Test("callers wait for a free connection instead of failing, up to the acquisition timeout")
    func poolExhaustion() async throws {
        let url = try TestEnvironment.databaseURL()
        let small = PostgresPool(configuration: PostgresConfiguration(url: url, maxConnections: 2, acquireTimeout: 10))
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<8 {
                group.addTask { try await small.query("SELECT pg_sleep(0.1), \(index) AS i").first!.decode("i", as: Int.self) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.sorted() == Array(0..<8))
        let backends = try await small.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'storefleet' AND datname = current_database()").first?.decode("n", as: Int.self)
        #expect((backends ?? 0) >= 1)

        let impatient = PostgresPool(configuration: PostgresConfiguration(url: url, maxConnections: 1, acquireTimeout: 0.2))
        let holder = Task { try await impatient.query("SELECT pg_sleep(3)") }
        // Until the holder's statement runs on the server, its one connection may not be taken yet (on a
        // loaded machine, connecting takes longer than any fixed pause).
        try await eventually(within: 10) { () throws -> Void in
            let running = try await small.query("SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3)' AND state = 'active'").first?.decode("n", as: Int.self)
            guard running == 1 else { throw CancellationError() }
        }
        let error = await #expect(throws: PostgresError.self) { try await impatient.query("SELECT 1") }
        #expect(error?.kind == .poolExhausted)
        _ = try await holder.value
        try await impatient.query("SELECT 1")
        await small.shutdown()
        await impatient.shutdown()
    }

    @Test("a prepared statement keeps working after the table it reads changes shape")
    func preparedStatementsSurviveSchemaChanges() async throws {
        let table = TestEnvironment.uniqueName("shape")
        try await pool.withConnection { connection in
            try await connection.runScript("CREATE TABLE \(table) (a int)")
            try await connection.query(PostgresQuery(sql: "INSERT INTO \(table) VALUES ($1)", binds: [.text("1")]))
            let select = PostgresQuery(sql: "SELECT * FROM \(table) WHERE a = $1", binds: [.text("1")])
            #expect(try await connection.query(select).columns.count == 1)
            try await connection.runScript("ALTER TABLE \(table) ADD COLUMN b text DEFAULT 'x'")
            let after = try await connection.query(select)
            #expect(after.columns.map(\.name) == ["a", "b"])
            #expect(try after.first?.decode("b", as: String.self) == "x")
            try await connection.runScript("DROP TABLE \(table)")
        }
    }

    @Test("a connection killed by the server is reopened on next use")
    func terminatedBackend() async throws {
        let single = PostgresPool(configuration: PostgresConfiguration(url: try TestEnvironment.databaseURL(), maxConnections: 1))
        let pid = try #require(try await single.query("SELECT pg_backend_pid() AS pid").first?.decode("pid", as: Int.self))
        try await pool.query("SELECT pg_terminate_backend(\(pid))")
        try await Task.sleep(for: .milliseconds(100))
        let newPid = try await single.query("SELECT pg_backend_pid() AS pid").first?.decode("pid", as: Int.self)
        #expect(newPid != nil && newPid != pid)
        await single.shutdown()
    }
}

@Suite("Postgres client across a server restart", .serialized)
struct PostgresRestartTests {
    @Test("queries work again after the server restarts, without a new pool")
    func reconnectsAfterRestart() async throws {
        try await withThrowawayServer(.postgres) { server in
        let pool = PostgresPool(configuration: PostgresConfiguration(url: server.url, maxConnections: 3))
        for _ in 0..<3 { try await pool.query("SELECT 1") }

        try await server.restart()
        // Idle connections closed by the restart are noticed before a statement is sent, so this succeeds at once.
        let value = try await pool.query("SELECT 7 AS n").first?.decode("n", as: Int.self)
        #expect(value == 7)

        try await server.stop()
        let down = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(down?.isTransient == true)
        try await server.startAgain()
        let back = try await eventually(within: 10) { try await pool.query("SELECT 8 AS n").first?.decode("n", as: Int.self) }
        #expect(back == 8)
        await pool.shutdown()
        }
    }

    @Test("a wrong password is a connection failure that is not worth retrying")
    func refusedCredentials() async throws {
        let url = try TestEnvironment.databaseURL()
        var components = try #require(URLComponents(string: url))
        components.password = "wrong-password"
        let pool = PostgresPool(configuration: PostgresConfiguration(url: components.string!, maxConnections: 1))
        let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.isRefusedCredentials == true)
        #expect(error?.isTransient == false)
        #expect(error?.message.contains("wrong-password") == false)
    }
}

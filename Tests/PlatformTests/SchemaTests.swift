import Foundation
import Jobs
import Platform
import Logging
import Postgres
import ServiceRuntime
import Testing
import TestSupport

@Suite("Schema migrations")
struct SchemaTests {
    @Test("the shipped migrations are numbered from 1 without duplicates, the engine's and the platform's")
    func migrationsAreNumbered() throws {
        for migrations in [try Schema.migrations(), try JobSchema.migrations()] {
            #expect(!migrations.isEmpty)
            #expect(migrations.map(\.version) == Array(1...migrations.count))
        }
    }

    @Test("replicas starting at once apply each migration exactly once")
    func concurrentMigrationIsSerialized() async throws {
        try await withTestDatabase { database in
        let logger = Logger(label: "test")
        let pools = (0..<4).map { _ in PostgresPool(configuration: PostgresConfiguration(url: database.url, maxConnections: 2)) }
        let appliedCounts = try await withThrowingTaskGroup(of: Int.self) { group in
            for pool in pools { group.addTask { try await Schema.migrate(pool, logger: logger).count } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let expected = try Schema.migrations().count
        let engine = try JobSchema.migrations().count
        #expect(appliedCounts.reduce(0, +) == expected + engine, "each migration applied by exactly one replica")
        let rows = try await pools[0].query("SELECT version, count(*) OVER () AS total FROM schema_migrations ORDER BY version").rows
        #expect(try rows.map { try $0.decode("version", as: Int.self) } == Array(1...expected))
        let tables = try await pools[0].query("""
            SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name
            """).rows.map { try $0.decode("table_name", as: String.self) }
        for table in ["api_tokens", "audit_events", "job_engine_migrations", "job_steps", "job_transitions", "jobs", "schema_migrations", "stores", "tenants"] {
            #expect(tables.contains(table), "table \(table) exists")
        }
        // Running again finds nothing to do.
        #expect(try await Schema.migrate(pools[1], logger: logger).isEmpty)
        for pool in pools { await pool.shutdown() }
        }
    }

    @Test("a database the platform's chain made before the engine had its own is adopted, not migrated again")
    func legacyEngineTablesAreAdopted() async throws {
        try await withPlatformDatabase { pool in
        let logger = Logger(label: "test")
        // Such a database: every object in place and the platform at version 13, but no engine record.
        let job = UUID()
        try await pool.query("INSERT INTO jobs (id, kind, status, steps) VALUES (\(job), 'legacy', 'queued', '{a}')")
        try await pool.query("DROP TABLE job_engine_migrations")
        try await pool.query("DELETE FROM schema_migrations WHERE version > 13")
        let applied = try await Schema.migrate(pool, logger: logger)
        // The engine's first migration is recorded, not run (its objects are there); its later ones run.
        let engineLater = try JobSchema.migrations().filter { $0.version > 1 }
        #expect(applied.map(\.name) == engineLater.map(\.name) + (try Schema.migrations()).filter { $0.version > 13 }.map(\.name),
                "the engine's schema is recorded, not run")
        let recorded = try await pool.query("SELECT version FROM job_engine_migrations ORDER BY version").rows.map { try $0.decode("version", as: Int.self) }
        #expect(recorded == Array(1...(try JobSchema.migrations().count)))
        #expect(try await pool.query("SELECT count(*) AS n FROM jobs WHERE id = \(job)").first?.decode("n", as: Int.self) == 1)
        }
    }

    /// The platform's migrations as the last build before the split shipped them, from git.
    static func legacyMigrations(through version: Int) async throws -> [Migration] {
        let root = TestEnvironment.repositoryRoot.path
        let names = try await ChildProcess.run("git", ["-C", root, "ls-tree", "--name-only", "9e15e26", "Sources/Platform/Migrations/"], timeout: 30)
        try #require(names.exitCode == 0, "this test reads the pre-split migrations from git history (a full clone): \(names.standardError)")
        var migrations: [Migration] = []
        for path in names.standardOutput.split(separator: "\n").map(String.init) {
            let file = (path as NSString).lastPathComponent
            guard let number = Int(file.prefix(4)), number <= version else { continue }
            let text = try await ChildProcess.run("git", ["-C", root, "show", "9e15e26:\(path)"], timeout: 30)
            try #require(text.exitCode == 0)
            migrations.append(Migration(version: number, name: String(file.dropFirst(5).dropLast(4)), sql: text.standardOutput))
        }
        #expect(migrations.count == version)
        return migrations
    }

    static func schemaDump(_ url: String) async throws -> [String] {
        let dump = try await ChildProcess.run("pg_dump", ["-s", "--no-owner", url], timeout: 60)
        try #require(dump.exitCode == 0, "\(dump.standardError)")
        return dump.standardOutput.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict") }
    }

    @Test("a database the old chain made, at version 12 or 13, is adopted and ends the same as a fresh one", arguments: [12, 13])
    func legacyDatabaseFromTheOldFilesIsAdopted(_ version: Int) async throws {
        let logger = Logger(label: "test")
        try await withTestDatabase { legacy in
            try await withTestDatabase { fresh in
                let old = PostgresPool(configuration: PostgresConfiguration(url: legacy.url, maxConnections: 2))
                let new = PostgresPool(configuration: PostgresConfiguration(url: fresh.url, maxConnections: 2))
                defer { Task { await old.shutdown(); await new.shutdown() } }
                try await PostgresMigrator(migrations: try await Self.legacyMigrations(through: version)).migrate(old, logger: logger)
                let applied = try await Schema.migrate(old, logger: logger)
                let engineLater = try JobSchema.migrations().filter { $0.version > 1 }
                #expect(applied.map(\.name) == engineLater.map(\.name) + (try Schema.migrations()).filter { $0.version > version }.map(\.name),
                        "the engine's first migration adopted, not run; its later ones and the platform's run")
                try await Schema.migrate(new, logger: logger)
                let adopted = try await Self.schemaDump(legacy.url), made = try await Self.schemaDump(fresh.url)
                #expect(adopted == made, "\(adopted.count) lines against \(made.count)")
            }
        }
    }

    @Test("an old dump restored over a newer database, leaving the engine's record behind, fails the start-up rather than passing for done")
    func staleEngineRecordIsCaught() async throws {
        try await withTestDatabase { database in
            let pool = PostgresPool(configuration: PostgresConfiguration(url: database.url, maxConnections: 2))
            defer { Task { await pool.shutdown() } }
            // What pg_restore --clean leaves: the dump's objects at version 5 (jobs.attempt not yet
            // renamed), and the newer database's job_engine_migrations, which the dump did not have.
            try await PostgresMigrator(migrations: try await Self.legacyMigrations(through: 5)).migrate(pool, logger: Logger(label: "test"))
            try await PostgresMigrator(migrations: [], table: JobSchema.table, lockKey: JobSchema.lockKey).migrate(pool, logger: Logger(label: "test"))
            try await pool.query("INSERT INTO job_engine_migrations (version, name) VALUES (1, 'engine')")
            let error = await #expect(throws: MigrationError.self) { try await Schema.migrate(pool, logger: Logger(label: "test")) }
            #expect(error?.description.contains("DROP TABLE job_engine_migrations") == true)
        }
    }

    @Test("a database stopped before the engine's objects were complete is refused with what to do")
    func halfwayLegacyDatabaseIsRefused() async throws {
        try await withPlatformDatabase { pool in
        try await pool.query("DROP TABLE job_engine_migrations")
        try await pool.query("DELETE FROM schema_migrations WHERE version > 9")
        let error = await #expect(throws: MigrationError.self) { try await Schema.migrate(pool, logger: Logger(label: "test")) }
        #expect(error?.description.contains("schema version 9") == true)
        #expect(error?.description.contains("from before") == true)
        }
    }

    @Test("the platform's foreign keys hold jobs to stores and tenants that exist")
    func jobsReferencePlatformRows() async throws {
        try await withPlatformDatabase { pool in
        await #expect(throws: (any Error).self) {
            try await pool.query("INSERT INTO jobs (id, kind, status, steps, store_id) VALUES (\(UUID()), 'x', 'queued', '{a}', \(UUID()))")
        }
        }
    }

    @Test("a failing migration rolls back completely and is not recorded")
    func failingMigrationRollsBack() async throws {
        try await withTestDatabase { database in
        let pool = PostgresPool(configuration: PostgresConfiguration(url: database.url, maxConnections: 1))
        let migrations = [
            Migration(version: 1, name: "good", sql: "CREATE TABLE one (id int)"),
            Migration(version: 2, name: "bad", sql: "CREATE TABLE two (id int); SELECT no_such_function();"),
        ]
        await #expect(throws: MigrationError.self) {
            try await PostgresMigrator(migrations: migrations).migrate(pool, logger: Logger(label: "test"))
        }
        let versions = try await pool.query("SELECT version FROM schema_migrations").rows.map { try $0.decode("version", as: Int.self) }
        #expect(versions == [1])
        let two = try await pool.query("SELECT to_regclass('two') IS NULL AS missing").first?.decode("missing", as: Bool.self)
        #expect(two == true)
        await pool.shutdown()
        }
    }

    @Test("a database newer than the build is refused with a clear message")
    func newerDatabaseIsRefused() async throws {
        try await withTestDatabase { database in
        let pool = PostgresPool(configuration: PostgresConfiguration(url: database.url, maxConnections: 1))
        try await PostgresMigrator(migrations: [Migration(version: 1, name: "a", sql: "SELECT 1"), Migration(version: 2, name: "b", sql: "SELECT 1")])
            .migrate(pool, logger: Logger(label: "test"))
        let error = await #expect(throws: MigrationError.self) {
            try await PostgresMigrator(migrations: [Migration(version: 1, name: "a", sql: "SELECT 1")]).migrate(pool, logger: Logger(label: "test"))
        }
        #expect(error?.description.contains("newer build") == true)
        await pool.shutdown()
        }
    }
}

/// A throwaway database with the platform's schema (the engine's under it), and a pool on it.
func withPlatformDatabase(_ body: (PostgresPool) async throws -> Void) async throws {
    try await withTestDatabase { database in
        let pool = PostgresPool(configuration: PostgresConfiguration(url: database.url, maxConnections: 4))
        do {
            try await Schema.migrate(pool, logger: Logger(label: "test"))
            try await body(pool)
        } catch {
            await pool.shutdown()
            throw error
        }
        await pool.shutdown()
    }
}

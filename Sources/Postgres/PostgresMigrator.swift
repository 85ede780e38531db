import Foundation
import Logging

/// One numbered schema change, read from a file such as `0001_initial.sql`.
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Loads every `NNNN_name.sql` file in a directory, ordered by number; refuses duplicates and gaps
    /// in naming so that a mistake shows at start-up rather than as a half-migrated database.
    public static func load(from directory: URL) throws -> [Migration] {
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
        var migrations: [Migration] = []
        for file in files {
            let stem = file.deletingPathExtension().lastPathComponent
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else {
                throw MigrationError("migration file \(file.lastPathComponent) must be named NNNN_description.sql")
            }
            let sql = try String(contentsOf: file, encoding: .utf8)
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (previous, next) in zip(migrations, migrations.dropFirst()) where previous.version == next.version {
            throw MigrationError("two migrations have number \(next.version): \(previous.name) and \(next.name)")
        }
        return migrations
    }
}

public struct MigrationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Applies pending migrations, each in its own transaction, holding a Postgres advisory lock for the
/// whole run so that replicas starting at the same moment apply each migration exactly once: the
/// others wait on the lock, then find nothing left to do. One database may hold several chains (the job
/// engine's and the platform's), each with a table of its own recording what it applied.
public struct PostgresMigrator: Sendable {
    /// The platform chain's advisory lock key; any constant unique to this application.
    public static let lockKey: Int64 = 0x5354_4F52_4546_4C54  // "STOREFLT"

    public let migrations: [Migration]
    public let lockTimeout: Double
    /// Where this chain records what it applied.
    public let table: String
    public let lockKey: Int64

    public init(migrations: [Migration], table: String = "schema_migrations", lockKey: Int64 = PostgresMigrator.lockKey, lockTimeout: Double = 120) {
        precondition(table.allSatisfy { $0.isASCII && ($0.isLowercase || $0 == "_") }, "a migrations table is a plain identifier")
        self.migrations = migrations
        self.table = table
        self.lockKey = lockKey
        self.lockTimeout = lockTimeout
    }

    /// Returns the migrations this call applied (empty when the schema was current).
    ///
    /// `adopting` runs under the lock when this chain has recorded nothing yet, for a database whose
    /// objects were made before the chain existed (by another chain): it returns the version the
    /// database already matches, and the migrations up to it are recorded without being run.
    @discardableResult
    public func migrate(_ pool: PostgresPool, logger: Logger,
                        adopting: (@Sendable (PostgresConnection) async throws -> Int?)? = nil) async throws -> [Migration] {
        try await pool.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(lockKey))", timeout: lockTimeout)
            do {
                let applied = try await applyPending(connection, logger: logger, adopting: adopting)
                try await connection.query("SELECT pg_advisory_unlock(\(lockKey))")
                return applied
            } catch {
                // Closing the session releases the lock even when the unlock cannot be sent.
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))")
                throw error
            }
        }
    }

    private func applyPending(_ connection: PostgresConnection, logger: Logger,
                              adopting: (@Sendable (PostgresConnection) async throws -> Int?)?) async throws -> [Migration] {
        try await connection.runScript("""
            CREATE TABLE IF NOT EXISTS \(table) (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        let recorded = try await connection.query(PostgresQuery(sql: "SELECT version FROM \(table)")).rows
        if recorded.isEmpty, let adopting, let version = try await adopting(connection) {
            for migration in migrations where migration.version <= version {
                try await record(migration, on: connection)
            }
            logger.info("adopted an existing schema", metadata: ["table": "\(table)", "version": "\(version)"])
        }
        let rows = try await connection.query(PostgresQuery(sql: "SELECT version FROM \(table)")).rows
        let done = Set(try rows.map { try $0.decode("version", as: Int.self) })
        if let newest = done.max(), let known = migrations.last?.version, newest > known {
            throw MigrationError(
                "the database has schema version \(newest) but this build knows only up to \(known); run a newer build"
            )
        }
        var applied: [Migration] = []
        for migration in migrations where !done.contains(migration.version) {
            try await connection.query("BEGIN")
            do {
                try await connection.runScript(migration.sql, timeout: lockTimeout)
                try await record(migration, on: connection)
                try await connection.query("COMMIT")
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw MigrationError("migration \(migration.version)_\(migration.name) failed: \(error)")
            }
            logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            applied.append(migration)
        }
        return applied
    }

    /// The table name is this chain's constant (checked at init), so it is spelled into the statement.
    private func record(_ migration: Migration, on connection: PostgresConnection) async throws {
        try await connection.query(PostgresQuery(sql: "INSERT INTO \(table) (version, name) VALUES ($1, $2)",
                                                 binds: [migration.version.postgresBind, migration.name.postgresBind]))
    }
}

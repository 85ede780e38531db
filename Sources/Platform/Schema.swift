import Foundation
import Jobs
import Logging
import Postgres

/// The platform's database schema: the job engine's (`JobSchema`), then the platform's own numbered SQL
/// files shipped in `Migrations/`.
public enum Schema {
    public static func migrations() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw MigrationError("the Migrations resource folder is missing from this build")
        }
        return try Migration.load(from: directory)
    }

    /// The platform version at which a database made before the engine had its own chain holds the
    /// engine's objects in their final shape (0012 was the last of the platform's migrations that
    /// changed them).
    static let engineCompleteAt = 12

    /// Brings the database up to date, the engine's schema first; safe to call from every replica at once.
    @discardableResult
    public static func migrate(_ pool: PostgresPool, logger: Logger) async throws -> [Migration] {
        let engine = try await JobSchema.migrate(pool, logger: logger, adopting: adoptLegacyEngineTables)
        return engine + (try await PostgresMigrator(migrations: try migrations()).migrate(pool, logger: logger))
    }

    /// A database whose engine tables the platform's own chain made (before the split) already holds the
    /// engine's schema 1, provided it reached the platform's version 12; one that stopped earlier is
    /// refused rather than left half-way, with what to do.
    @Sendable static func adoptLegacyEngineTables(_ connection: PostgresConnection) async throws -> Int? {
        guard let row = try await connection.query("SELECT to_regclass('jobs') IS NOT NULL AS jobs, to_regclass('schema_migrations') IS NOT NULL AS platform").first,
              try row.decode("jobs", as: Bool.self) else { return nil }
        guard try row.decode("platform", as: Bool.self) else {
            throw MigrationError("a jobs table exists that no migration chain recorded; this is not a Storefleet database, or it was changed by hand")
        }
        let version = try await connection.query("SELECT coalesce(max(version), 0) AS v FROM schema_migrations").first?.decode("v", as: Int.self) ?? 0
        guard version >= engineCompleteAt else {
            throw MigrationError("""
                this database is at schema version \(version), made by a build from before the job engine had a schema of its own; \
                start a build of Storefleet from commit 1cd66af through be2609d (they know versions \(engineCompleteAt) and 13) once to \
                bring it to version \(engineCompleteAt) or later, then this one
                """)
        }
        return 1
    }
}

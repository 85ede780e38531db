import Foundation
import Logging
import Postgres

/// The platform's database schema: the numbered SQL files shipped in `Migrations/`.
public enum Schema {
    public static func migrations() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw MigrationError("the Migrations resource folder is missing from this build")
        }
        return try Migration.load(from: directory)
    }

    /// Brings the database up to date; safe to call from every replica at once.
    @discardableResult
    public static func migrate(_ pool: PostgresPool, logger: Logger) async throws -> [Migration] {
        try await PostgresMigrator(migrations: try migrations()).migrate(pool, logger: logger)
    }
}

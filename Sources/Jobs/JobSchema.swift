import Foundation
import Logging
import Postgres

/// The job engine's own tables and functions (`Migrations/NNNN_*.sql` in this module), recorded in
/// `job_engine_migrations`: what a program that reuses the engine applies to its database, and what the
/// platform applies before its own chain.
public enum JobSchema {
    /// Distinct from the platform chain's, so the two chains never wait on each other's lock by accident.
    public static let lockKey: Int64 = 0x5346_4A4F_4253_4348  // "SFJOBSCH"
    public static let table = "job_engine_migrations"

    public static func migrations() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw MigrationError("the job engine's Migrations resource folder is missing from this build")
        }
        return try Migration.load(from: directory)
    }

    /// Brings the engine's schema up to date; safe to call from every replica at once. `adopting`: see
    /// `PostgresMigrator.migrate`.
    @discardableResult
    public static func migrate(_ pool: PostgresPool, logger: Logger,
                               adopting: (@Sendable (PostgresConnection) async throws -> Int?)? = nil) async throws -> [Migration] {
        try await PostgresMigrator(migrations: try migrations(), table: table, lockKey: lockKey).migrate(pool, logger: logger, adopting: adopting)
    }
}

import Foundation
import Jobs
import Logging
import Postgres
import Testing
import TestSupport

/// The engine on its own: its schema in an empty database, nothing of the platform's needed.
@Suite("The job engine's own schema")
struct EngineSchemaTests {
    @Test("applies to an empty database alone, records itself apart, and is idempotent")
    func engineSchemaStandsAlone() async throws {
        try await withTestDatabase { database in
            let pool = PostgresPool(configuration: PostgresConfiguration(url: database.url, maxConnections: 2))
            defer { Task { await pool.shutdown() } }
            let applied = try await JobSchema.migrate(pool, logger: Logger(label: "test"))
            #expect(applied.count == (try JobSchema.migrations()).count)
            let tables = try await pool.query("""
                SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name
                """).rows.map { try $0.decode("table_name", as: String.self) }
            #expect(tables == ["job_count_deltas", "job_counts", "job_engine_migrations", "job_steps", "job_transitions", "jobs"])
            // A store is only a key to the engine: any UUID will do.
            try await pool.query("INSERT INTO jobs (id, kind, status, steps, store_id, tenant_id) VALUES (\(UUID()), 'k', 'queued', '{a}', \(UUID()), \(UUID()))")
            #expect(try await JobSchema.migrate(pool, logger: Logger(label: "test")).isEmpty)
        }
    }
}

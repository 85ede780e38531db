import Foundation
import Jobs
import Platform
import Postgres

/// The store a job works on, read from Postgres (the source of truth), not from the job's payload.
public struct StoreRecord: Sendable {
    public let id: UUID
    public let tenantID: UUID
    public let name: String
    public let engine: String
    public let namespace: String
    public let status: String
    /// What the job makes the store run: its live spec, or for an update the revision it applies.
    public var spec: StoreSpec
    /// The revision `spec` is.
    public var revision: Int
    /// Whether the release is made with every workload at zero: what the suspend job asks for, never
    /// any other (a resume, an update and a create all make a running store).
    public var suspended = false

    /// The Helm release is named after the store, so its objects are `<name>-web`, `<name>-db`...
    public var release: String { name }

    static func load(_ id: UUID?, from postgres: PostgresPool) async throws -> StoreRecord {
        guard let id else { throw StepFailure.permanent("this job names no store") }
        guard let row = try await postgres.query("""
            SELECT id, tenant_id, name, engine, namespace, status, plan, chart_version, app_version, revision FROM stores WHERE id = \(id)
            """).first else {
            throw StepFailure.permanent("store \(id.lower) does not exist")
        }
        return StoreRecord(
            id: try row.decode("id"), tenantID: try row.decode("tenant_id"), name: try row.decode("name"),
            engine: try row.decode("engine"), namespace: try row.decode("namespace"), status: try row.decode("status"),
            spec: StoreSpec(plan: try row.decode("plan"), chartVersion: try row.decode("chart_version"), appVersion: try row.decode("app_version")),
            revision: try row.decode("revision")
        )
    }
}

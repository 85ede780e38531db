import Foundation

/// A database of a test's own on the shared test server, so that schema tests start from nothing.
public struct TestDatabase: Sendable {
    public let name: String
    public let url: String
    let adminURL: String

    /// Creates an empty database; `drop()` removes it.
    public static func create() async throws -> TestDatabase {
        let adminURL = try TestEnvironment.databaseURL()
        let name = TestEnvironment.uniqueName("test")
        try await psql(adminURL, "CREATE DATABASE \(name)")
        var components = URLComponents(string: adminURL)!
        components.path = "/\(name)"
        return TestDatabase(name: name, url: components.string!, adminURL: adminURL)
    }

    public func drop() async {
        _ = try? await Self.psql(adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    static func psql(_ url: String, _ sql: String) async throws {
        try await Shell.run("/usr/bin/env", ["psql", url, "-qAtc", sql])
    }
}

/// Runs `body` with a fresh database and drops it afterwards, whether `body` succeeds or throws.
public func withTestDatabase<T>(_ body: (TestDatabase) async throws -> T) async throws -> T {
    let database = try await TestDatabase.create()
    do {
        let value = try await body(database)
        await database.drop()
        return value
    } catch {
        await database.drop()
        throw error
    }
}

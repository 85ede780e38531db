import Foundation
@testable import Postgres
import Testing

@Suite("Query building and timestamps")
struct QueryAndTimestampTests {
    @Test("interpolated values become numbered parameters, never SQL text")
    func interpolationBindsParameters() {
        let name = "x'; DROP TABLE stores; --"
        let limit = 5
        let query: PostgresQuery = "SELECT * FROM stores WHERE name = \(name) AND n < \(limit) OR name = \(name)"
        #expect(query.sql == "SELECT * FROM stores WHERE name = $1 AND n < $2 OR name = $3")
        #expect(query.binds == [.text(name), .text("5"), .text(name)])
        #expect(!query.description.contains("DROP"))
    }

    @Test("timestamps parse in the forms Postgres writes", arguments: [
        ("2026-11-23 13:33:12+00", 1_795_440_792.0),
        ("2026-11-23 13:33:12.5+00", 1_795_440_792.5),
        ("2026-11-23 13:33:12.000001+00", 1_795_440_792.000001),
        ("2026-11-23 15:33:12+02", 1_795_440_792.0),
        ("2026-11-23 08:03:12-05:30", 1_795_440_792.0),
        ("2026-11-23T13:33:12Z", 1_795_440_792.0),
    ])
    func parsesTimestamps(_ text: String, _ epoch: Double) throws {
        let date = try #require(PostgresTimestamp.parse(text))
        #expect(abs(date.timeIntervalSince1970 - epoch) < 0.000_000_5)
    }

    @Test("malformed timestamps are refused", arguments: ["", "2026-11-23", "2026-13-99 xx", "2026-11-23 13:33:12+0x", "infinity"])
    func refusesMalformed(_ text: String) {
        #expect(PostgresTimestamp.parse(text) == nil)
    }

    @Test("formatting and parsing agree to the microsecond")
    func formatParseRoundTrip() throws {
        for epoch in [0.0, 1_795_440_792.123456, 1_795_440_792.999999, 951_782_400.5] {
            let text = PostgresTimestamp.format(Date(timeIntervalSince1970: epoch))
            let parsed = try #require(PostgresTimestamp.parse(text))
            #expect(abs(parsed.timeIntervalSince1970 - epoch) < 0.000_001, "\(text)")
        }
    }
}

import Foundation
@testable import GatewayKit
@testable import Jobs
import Testing

@Suite("Hand-written JSON for job reads")
struct JSONWriterTests {
    static let base = Date(timeIntervalSince1970: 1_795_400_000.123_9)

    static func job(error: String?, steps: [StepSnapshot], finished: Bool) -> JobSnapshot {
        JobSnapshot(
            id: UUID(), kind: "store.create", storeID: finished ? nil : UUID(), tenantID: UUID(), status: finished ? .failed : .running,
            currentStep: 1, workerID: "w-1", cancelRequested: finished, error: error, createdAt: base,
            startedAt: base.addingTimeInterval(0.5), finishedAt: finished ? base.addingTimeInterval(61.25) : nil,
            updatedAt: base.addingTimeInterval(3), steps: steps, transitions: nil
        )
    }

    static let steps = [
        StepSnapshot(position: 0, name: "namespace", status: .succeeded, attempts: 1, startedAt: base, finishedAt: base.addingTimeInterval(0.2),
                     durationMs: 200, message: nil),
        StepSnapshot(position: 1, name: "release", status: .retrying, attempts: 3, startedAt: base.addingTimeInterval(1), finishedAt: nil,
                     durationMs: 12.345_678_9, message: "helm said \"no\"\n\tat line 2 \\ café ✓ \u{01}"),
        StepSnapshot(position: 2, name: "readiness", status: .pending, attempts: 0, startedAt: nil, finishedAt: nil, durationMs: nil, message: nil),
    ]

    static let examples: [String: JobSnapshot] = [
        "running": job(error: nil, steps: steps, finished: false),
        "failed": job(error: "step release failed: \"quota\" exceeded\r\n", steps: steps, finished: true),
        "no steps": job(error: nil, steps: [], finished: false),
    ]

    @Test("a job view written by hand is the JSON the generic encoder writes", arguments: ["running", "failed", "no steps"])
    func sameAsEncoder(example: String) throws {
        let view = JobView(try #require(Self.examples[example]))
        let fast = try JSONSerialization.jsonObject(with: Data(view.json())) as? NSDictionary
        let generic = try JSONSerialization.jsonObject(with: JSONCoding.encode(view)) as? NSDictionary
        #expect(fast != nil)
        #expect(fast == generic)
        // Same keys in the same (sorted) order too, as a person diffing two responses would want.
        let fastKeys = String(decoding: view.json(), as: UTF8.self).split(separator: ",").compactMap { $0.split(separator: ":").first }
        let genericKeys = String(decoding: JSONCoding.encode(view), as: UTF8.self).split(separator: ",").compactMap { $0.split(separator: ":").first }
        #expect(fastKeys == genericKeys)
    }

    @Test("timestamps are RFC 3339 in UTC with milliseconds, truncated like the formatter they replace")
    func timestamps() {
        #expect(Timestamp.string(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.string(Self.base) == "2026-11-23T02:13:20.123Z")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 951_782_400.999_9)) == "2000-02-29T00:00:00.999Z")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        // Whole milliseconds plus a fifth of one, where truncating and rounding agree.
        for step in 0..<60 {
            let date = Date(timeIntervalSince1970: 1_700_000_000 + Double(step) * 608_461.017 + 0.0002)
            #expect(Timestamp.string(date) == formatter.string(from: date))
        }
    }
}

import Foundation
@testable import ServiceRuntime
import Synchronization
import Testing

@Suite("Group commit")
struct GroupCommitTests {
    /// A writer that records each batch and holds the first one until released, so that the requests
    /// submitted meanwhile are seen to gather into the next batch.
    final class GatedWriter: Sendable {
        let batches = Mutex<[[Int]]>([])
        let gate = AsyncStream<Void>.makeStream()

        func write(_ requests: [Int]) async throws -> [String] {
            let first = batches.withLock { batches in
                batches.append(requests)
                return batches.count == 1
            }
            if first { for await _ in gate.stream { break } }
            if requests.contains(-1) { throw CancellationError() }
            return requests.map { "answer \($0)" }
        }
    }

    @Test("requests made while a batch is being written go together in the next one, and each gets its own answer")
    func coalesces() async throws {
        let writer = GatedWriter()
        let commit = GroupCommit<Int, String> { try await writer.write($0) }
        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            group.addTask { (0, try await commit.submit(0)) }
            while writer.batches.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(5)) }
            for n in 1...5 { group.addTask { (n, try await commit.submit(n)) } }
            // All five are pending behind the first batch before it is let go.
            while commit.pendingCount < 5 { try await Task.sleep(for: .milliseconds(5)) }
            writer.gate.continuation.yield()
            var answers: [Int: String] = [:]
            for try await (n, answer) in group { answers[n] = answer }
            #expect(answers == Dictionary(uniqueKeysWithValues: (0...5).map { ($0, "answer \($0)") }))
        }
        let batches = writer.batches.withLock { $0 }
        #expect(batches.count == 2)
        #expect(batches.first == [0])
        #expect(batches.last?.sorted() == [1, 2, 3, 4, 5])
    }

    @Test("a failed batch fails every request in it, and later requests are written afresh")
    func failurePropagates() async throws {
        let writer = GatedWriter()
        writer.gate.continuation.yield()
        let commit = GroupCommit<Int, String> { try await writer.write($0) }
        await #expect(throws: CancellationError.self) { try await commit.submit(-1) }
        #expect(try await commit.submit(7) == "answer 7")
    }

    @Test("a writer that answers the wrong number of requests is an error, not a hang")
    func miscountIsAnError() async throws {
        let commit = GroupCommit<Int, String> { _ in [] }
        await #expect(throws: GroupCommitError.self) { try await commit.submit(1) }
    }

    @Test("batches never exceed their limit")
    func limit() async throws {
        let sizes = Mutex<[Int]>([])
        let commit = GroupCommit<Int, Int>(maxBatch: 3) { requests in
            sizes.withLock { $0.append(requests.count) }
            try await Task.sleep(for: .milliseconds(20))
            return requests
        }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for n in 0..<20 { group.addTask { try await commit.submit(n) } }
            var answered = Set<Int>()
            for try await n in group { answered.insert(n) }
            #expect(answered == Set(0..<20))
        }
        #expect(sizes.withLock { $0.allSatisfy { $0 <= 3 } })
        #expect(sizes.withLock { $0.reduce(0, +) } == 20)
    }
}

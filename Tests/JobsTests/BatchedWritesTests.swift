import Foundation
import Jobs
import Postgres
import Testing

/// The statements a busy worker shares between jobs (group commit): each job in a batch must end up
/// exactly as if it had been written alone.
@Suite("Batched claims and step successes against real Postgres")
struct BatchedWritesTests {
    @Test("a batch of successes advances and finishes each owned job, refuses a lost one alone, and keeps every history in order")
    func successes() async throws {
        try await EngineHarness.with { h in
            var ids: [UUID] = []
            for _ in 0..<3 { ids.append(try await h.queue.store.enqueueForTest(h.scripted())) }
            let store = h.queue.store
            let claims = try await store.claim(ids, worker: "w", lease: 30)
            #expect(claims.allSatisfy { if case .claimed = $0 { true } else { false } })

            // The third job was reaped and taken by another worker meanwhile.
            try await h.postgres.query("UPDATE jobs SET epoch = epoch + 1, worker_id = 'other' WHERE id = \(ids[2])")
            let first = try await store.recordSuccesses(
                ids.map { JobStore.StepSuccess(job: $0, epoch: 1, position: 0, durationMs: 1, isLast: false) }, worker: "w")
            #expect(first.count == 2)
            #expect(first[ids[0]] == .some(1) && first[ids[1]] == .some(1), "the next step's first attempt started")
            #expect(first[ids[2]] == nil, "the lost job was not written")

            // One job finishing its last step next to one moving on, in one statement.
            _ = try await store.recordSuccesses([JobStore.StepSuccess(job: ids[0], epoch: 1, position: 1, durationMs: 1, isLast: false)], worker: "w")
            let second = try await store.recordSuccesses([
                JobStore.StepSuccess(job: ids[0], epoch: 1, position: 2, durationMs: 1, isLast: true),
                JobStore.StepSuccess(job: ids[1], epoch: 1, position: 1, durationMs: 1, isLast: false),
            ], worker: "w")
            #expect(second[ids[0]] == .some(nil), "the job succeeded: no step started")
            #expect(second[ids[1]] == .some(1))

            let done = try #require(try await store.snapshot(ids[0], includeTransitions: true))
            #expect(done.status == .succeeded)
            #expect(done.workerID == nil)
            #expect(done.steps.map(\.status) == [.succeeded, .succeeded, .succeeded])
            #expect(done.transitions?.map { "\($0.step ?? "job"):\($0.status)" } == [
                "job:queued", "job:running", "one:running", "one:succeeded", "two:running", "two:succeeded",
                "three:running", "three:succeeded", "job:succeeded",
            ])
            let moving = try #require(try await store.snapshot(ids[1], includeTransitions: true))
            #expect(moving.status == .running)
            #expect(moving.steps.map(\.status) == [.succeeded, .succeeded, .running])
            #expect(moving.transitions?.map { "\($0.step ?? "job"):\($0.status)" } == [
                "job:queued", "job:running", "one:running", "one:succeeded", "two:running", "two:succeeded", "three:running",
            ])
            let lost = try #require(try await store.snapshot(ids[2], includeTransitions: true))
            #expect(lost.steps.map(\.status) == [.running, .pending, .pending])
            #expect(lost.transitions?.count == 3)
        }
    }

    @Test("a batch of claims answers in the order asked, and two jobs of one store in one batch still run one at a time")
    func claims() async throws {
        try await EngineHarness.with { h in
            let store = try await h.createStore()
            let older = try await h.queue.store.enqueueForTest(h.scripted(store: store))
            let newer = try await h.queue.store.enqueueForTest(h.scripted(store: store))
            let other = try await h.queue.store.enqueueForTest(h.scripted())
            let missing = UUID()
            let outcomes = try await h.queue.store.claim([newer, missing, other, older], worker: "w", lease: 30)
            let names = outcomes.map { outcome -> String in
                switch outcome {
                case .claimed(let job, _): "claimed \(job.id == older ? "older" : job.id == other ? "other" : "?")"
                case .busy: "busy"
                case .early: "early"
                case .notClaimable: "not claimable"
                }
            }
            #expect(names == ["busy", "not claimable", "claimed other", "claimed older"])
            // Claiming again finds them taken.
            let again = try await h.queue.store.claim([older, other], worker: "w2", lease: 30)
            #expect(again.allSatisfy { if case .notClaimable = $0 { true } else { false } })
        }
    }
}

extension JobStore {
    /// Inserts a queued job without dispatching it, so that the test drives the engine's writes itself.
    func enqueueForTest(_ job: NewJob) async throws -> UUID {
        try await postgres.transaction { connection in try await insert(job, on: connection) }
        return job.id
    }
}

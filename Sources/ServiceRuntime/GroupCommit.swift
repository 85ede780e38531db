/// Coalesces concurrent requests into batches for one writer, the way a database's group commit
/// shares one flush among the transactions that commit together: while a batch is being written, new
/// requests gather, and go together in the next one. An idle caller is written at once; busy callers
/// share each round trip. Nobody waits on a timer, and every caller waits for its own request's result.
public final class GroupCommit<Request: Sendable, Response: Sendable>: Sendable {
    /// Writes a batch and answers each request, in order. Throwing fails every request in the batch.
    public typealias Write = @Sendable ([Request]) async throws -> [Response]

    private struct Pending {
        let request: Request
        let continuation: CheckedContinuation<Response, any Error>
    }

    private struct State {
        var pending: [Pending] = []
        var writing = false
    }

    private let maxBatch: Int
    private let write: Write
    private let state = LockedState(State())

    public init(maxBatch: Int = 64, write: @escaping Write) {
        precondition(maxBatch > 0)
        self.maxBatch = maxBatch
        self.write = write
    }

    /// Requests waiting for the next batch (for tests that hold a batch open).
    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Submits a request and waits for its batch to be written.
    public func submit(_ request: Request) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            let startWriting = state.withLock { state -> Bool in
                state.pending.append(Pending(request: request, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            if startWriting { Task { await self.drain() } }
        }
    }

    /// Writes batches until nothing is pending; one writer at a time.
    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                let taken = Array(state.pending.prefix(maxBatch))
                state.pending.removeFirst(taken.count)
                if taken.isEmpty { state.writing = false }
                return taken
            }
            guard !batch.isEmpty else { return }
            do {
                let responses = try await write(batch.map(\.request))
                guard responses.count == batch.count else {
                    throw GroupCommitError(requests: batch.count, responses: responses.count)
                }
                for (pending, response) in zip(batch, responses) { pending.continuation.resume(returning: response) }
            } catch {
                for pending in batch { pending.continuation.resume(throwing: error) }
            }
        }
    }
}

/// A batch writer answered a different number of requests than it was given: a programming error.
public struct GroupCommitError: Error, CustomStringConvertible {
    public let requests: Int
    public let responses: Int
    public var description: String { "a batch of \(requests) requests got \(responses) responses" }
}

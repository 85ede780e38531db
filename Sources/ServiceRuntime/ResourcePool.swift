/// A bounded set of reusable resources (database or Redis connections). Borrowers take one for the length
/// of a closure; when all are lent out they wait in line, up to a timeout, instead of failing, so that a
/// burst queues rather than errors. Resources are created lazily and never discarded: each one repairs
/// itself (reconnects) on its next use.
public final class ResourcePool<Resource: Sendable>: Sendable {
    public enum Failure: Error, Sendable {
        case exhausted(capacity: Int, waited: Double)
        case closed
    }

    private struct State {
        var idle: [Resource] = []
        var created = 0
        var waiters: [Int: CheckedContinuation<Resource, any Error>] = [:]
        var waiterOrder: [Int] = []
        var nextTicket = 0
        var closed = false
    }

    private enum Decision { case ready(Resource), create(Int), wait(Int), closed }

    public let capacity: Int
    private let make: @Sendable (Int) -> Resource
    private let state = LockedState(State())

    /// `make` is called with a 1-based serial number when a new resource is needed; it must not block.
    public init(capacity: Int, make: @escaping @Sendable (Int) -> Resource) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.make = make
    }

    public func acquire(timeout: Double) async throws -> Resource {
        let decision: Decision = state.withLock { state in
            if state.closed { return .closed }
            if let resource = state.idle.popLast() { return .ready(resource) }
            if state.created < capacity {
                state.created += 1
                return .create(state.created)
            }
            state.nextTicket += 1
            return .wait(state.nextTicket)
        }
        switch decision {
        case .ready(let resource): return resource
        case .create(let serial): return make(serial)
        case .closed: throw Failure.closed
        case .wait(let ticket):
            let capacity = self.capacity
            let timer = Task {
                try await Task.sleep(for: .seconds(timeout))
                self.abandon(ticket, with: Failure.exhausted(capacity: capacity, waited: timeout))
            }
            defer { timer.cancel() }
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    let cancelled = state.withLock { state -> Bool in
                        if Task.isCancelled || state.closed { return true }
                        state.waiters[ticket] = continuation
                        state.waiterOrder.append(ticket)
                        return false
                    }
                    if cancelled { continuation.resume(throwing: CancellationError()) }
                }
            } onCancel: {
                self.abandon(ticket, with: CancellationError())
            }
        }
    }

    public func release(_ resource: Resource) {
        let waiter: CheckedContinuation<Resource, any Error>? = state.withLock { state in
            while !state.waiterOrder.isEmpty {
                let ticket = state.waiterOrder.removeFirst()
                if let continuation = state.waiters.removeValue(forKey: ticket) { return continuation }
            }
            state.idle.append(resource)
            return nil
        }
        waiter?.resume(returning: resource)
    }

    /// Refuses new borrowers, fails those waiting, and returns the idle resources for the caller to close.
    public func close() -> [Resource] {
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            defer {
                state.idle = []
                state.waiters = [:]
                state.waiterOrder = []
            }
            return (state.idle, Array(state.waiters.values))
        }
        for waiter in waiters { waiter.resume(throwing: Failure.closed) }
        return idle
    }

    private func abandon(_ ticket: Int, with error: any Error) {
        let continuation = state.withLock { $0.waiters.removeValue(forKey: ticket) }
        continuation?.resume(throwing: error)
    }
}

import Synchronization

/// Mutable state shared between threads, guarded by a mutex; for short critical sections only.
public final class LockedState<Value: ~Copyable>: @unchecked Sendable {
    private let mutex: Mutex<Void> = Mutex(())
    private var value: Value

    public init(_ value: consuming Value) {
        self.value = value
    }

    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        try mutex.withLock { _ throws(E) -> R in try body(&value) }
    }
}

import Dispatch

/// Runs blocking C calls (libpq, hiredis, libcurl) on a serial dispatch queue of their own, off Swift's
/// cooperative thread pool: a blocked cooperative thread would stall every task scheduled on it.
/// Serial queues target the overcommitting global queue, so each blocked queue gets its own thread.
public final class BlockingQueue: Sendable {
    private let queue: DispatchQueue

    public init(label: String) {
        self.queue = DispatchQueue(label: label)
    }

    public func run<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(E) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}

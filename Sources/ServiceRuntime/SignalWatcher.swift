import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Calls `handler` when one of `signals` arrives, for processes that manage their own shutdown
/// (the service-lifecycle executables use ServiceGroup instead). The sources are immutable after init.
public final class SignalWatcher: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    public init(signals: [Int32], handler: @escaping @Sendable () -> Void) {
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    public func cancel() {
        sources.forEach { $0.cancel() }
    }
}

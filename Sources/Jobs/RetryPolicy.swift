import Postgres
import Redis
import ServiceRuntime

/// How often a step may be tried and how long to wait in between.
public struct RetryPolicy: Sendable, Hashable {
    public var maxAttempts: Int
    public var backoff: Backoff

    public init(maxAttempts: Int, initialDelay: Double, multiplier: Double = 2, maxDelay: Double) {
        precondition(maxAttempts >= 1)
        self.maxAttempts = maxAttempts
        self.backoff = Backoff(initialDelay: initialDelay, multiplier: multiplier, maxDelay: maxDelay)
    }

    public static let standard = RetryPolicy(maxAttempts: 5, initialDelay: 1, multiplier: 2, maxDelay: 30)
    static let once = RetryPolicy(maxAttempts: 1, initialDelay: 0, maxDelay: 0)
}

/// How a failed step should be treated.
public enum FailureDisposition: Sendable, Equatable {
    /// Worth trying again, no sooner than `minimumDelay` seconds (for example a server's Retry-After).
    case retryable(minimumDelay: Double?)
    /// Trying again cannot help; the job fails now.
    case permanent
}

/// An error that knows whether retrying can help. Errors that do not conform are treated as retryable:
/// an unknown failure is more often a passing one, and the attempt limit bounds the cost of guessing wrong.
public protocol ClassifiedError: Error {
    var disposition: FailureDisposition { get }
    /// What kind of failure this was, for metrics (`storefleet_step_failures_total{cause}`): a short
    /// word from a small fixed set, never a message.
    var cause: String { get }
}

extension ClassifiedError {
    public var cause: String { "other" }
}

/// A step's own verdict on a failure, with a message a person can act on.
public struct StepFailure: ClassifiedError, CustomStringConvertible {
    public let message: String
    public let disposition: FailureDisposition
    /// "step" (the step's own verdict: not ready yet, bad input) unless the step knows better ("helm").
    public let cause: String

    public static func retryable(_ message: String, after minimumDelay: Double? = nil, cause: String = "step") -> StepFailure {
        StepFailure(message: message, disposition: .retryable(minimumDelay: minimumDelay), cause: cause)
    }

    public static func permanent(_ message: String, cause: String = "step") -> StepFailure {
        StepFailure(message: message, disposition: .permanent, cause: cause)
    }

    public var description: String { message }
}

extension PostgresError: ClassifiedError {
    public var disposition: FailureDisposition { isTransient ? .retryable(minimumDelay: nil) : .permanent }
    public var cause: String { "postgres" }
}

extension RedisError: ClassifiedError {
    public var disposition: FailureDisposition { isTransient ? .retryable(minimumDelay: nil) : .permanent }
    public var cause: String { "redis" }
}

extension TimeoutError: ClassifiedError {
    public var disposition: FailureDisposition { .retryable(minimumDelay: nil) }
    public var cause: String { "timeout" }
}

enum FailureClassifier {
    static func disposition(of error: any Error) -> FailureDisposition {
        (error as? any ClassifiedError)?.disposition ?? .retryable(minimumDelay: nil)
    }

    /// The failure's kind for metrics; errors that do not say are "other".
    static func cause(of error: any Error) -> String {
        if error is CancellationError { return "cancelled" }
        return (error as? any ClassifiedError)?.cause ?? "other"
    }

    /// One line for the step message and history.
    static func message(of error: any Error) -> String {
        let text = (error as? StepFailure)?.message ?? "\(error)"
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return line.count > 2000 ? String(line.prefix(2000)) + "…" : line
    }
}

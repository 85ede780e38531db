import Foundation
import Logging
import Postgres

/// One idempotent step of a job: its name (as stored in the job), its time limit and retry policy,
/// and the work. Running a step again after it succeeded, or after a crash mid-way, must be safe.
public struct StepDefinition: Sendable {
    public let name: String
    public let timeout: Double
    public let retry: RetryPolicy
    public let run: @Sendable (StepContext) async throws -> Void

    public init(_ name: String, timeout: Double, retry: RetryPolicy = .standard, run: @escaping @Sendable (StepContext) async throws -> Void) {
        self.name = name
        self.timeout = timeout
        self.retry = retry
        self.run = run
    }
}

/// What `JobDefinition.beforeFailing` decided: the message to record, and what to do once the failure
/// is recorded.
public struct FailureCleanup: Sendable {
    public var message: String
    public var afterwards: (@Sendable () async -> Void)?

    public init(message: String, afterwards: (@Sendable () async -> Void)? = nil) {
        self.message = message
        self.afterwards = afterwards
    }
}

/// A kind of job and how to run it. The step names must be those the producer stored with the job.
public struct JobDefinition: Sendable {
    public let kind: String
    public let steps: [StepDefinition]
    /// A failure's clean-up in other systems, in two halves. The first runs before the job is marked
    /// failed, outside any transaction: it reads what it will act on (say, the namespace and its UID)
    /// and returns the failure message to record. The second (`afterwards`) runs only once this claim's failure has
    /// committed, when no other claim can be running the job any more: a worker frozen between the
    /// two finds its failure refused and does nothing, rather than deleting what a newer claim has
    /// made (what it does in other systems cannot itself be fenced). Both must bound their own time.
    public let beforeFailing: (@Sendable (ClaimedJob, String) async -> FailureCleanup)?
    /// Runs in the same transaction that marks the job failed (for example to mark its store failed).
    public let onFailed: (@Sendable (PostgresConnection, ClaimedJob, String) async throws -> Void)?
    /// Runs in the same transaction that marks the job cancelled.
    public let onCancelled: (@Sendable (PostgresConnection, ClaimedJob) async throws -> Void)?
    /// A failed job of this kind restarts from its first step when retried (its failure undid the work
    /// of the earlier steps, say by deleting what they made).
    public let restartAfterFailure: Bool

    public init(
        kind: String, steps: [StepDefinition], restartAfterFailure: Bool = false,
        beforeFailing: (@Sendable (ClaimedJob, String) async -> FailureCleanup)? = nil,
        onFailed: (@Sendable (PostgresConnection, ClaimedJob, String) async throws -> Void)? = nil,
        onCancelled: (@Sendable (PostgresConnection, ClaimedJob) async throws -> Void)? = nil
    ) {
        self.kind = kind
        self.steps = steps
        self.restartAfterFailure = restartAfterFailure
        self.beforeFailing = beforeFailing
        self.onFailed = onFailed
        self.onCancelled = onCancelled
    }

    public var stepNames: [String] { steps.map(\.name) }
}

/// What a running step knows and can do: its job, its attempt, a logger carrying job/store/step IDs,
/// progress reporting, and a cancellation checkpoint.
public struct StepContext: Sendable {
    public let job: ClaimedJob
    public let step: String
    public let attempt: Int
    public let logger: Logger
    let store: JobStore
    let position: Int
    /// Whether this claim's lease surely still holds by the worker's own clock, with the stop margin
    /// to spare (and the step was not told to stop).
    var leaseHolds: @Sendable () -> Bool = { true }
    /// How many attempts the step's retry policy allows.
    public internal(set) var maxAttempts = 1

    /// Whether the engine would end the job if the step threw `error` now: a permanent failure, or a
    /// retryable one on the step's last attempt. Never a stop (a cancellation, a claim lost), which
    /// ends nothing: the job's owner runs the step again, or the job was cancelled. A step that must
    /// undo its work before a job fails (an update's rollback) asks this to decide it is time.
    public func failsForGood(_ error: any Error) -> Bool {
        if error is CancellationError || error is JobStore.LeaseLost || Task.isCancelled { return false }
        switch FailureClassifier.disposition(of: error) {
        case .permanent: return true
        case .retryable: return attempt >= maxAttempts
        }
    }

    /// The one line the engine would record for `error`.
    public func message(of error: any Error) -> String { FailureClassifier.message(of: error) }

    /// Records a progress message on the step ("2/3 workloads ready"), visible to API readers at once.
    public func report(_ message: String) async {
        do {
            try await store.reportProgress(job: job.id, epoch: job.epoch, position: position, message: message)
        } catch {
            logger.debug("could not record progress", metadata: ["error": "\(error)"])
        }
    }

    /// The step's own database writes (its store's status, say): committed only while this claim still
    /// owns the job, in a transaction that checks so first. A claim that was reaped or superseded gets
    /// `JobStore.LeaseLost` and writes nothing; the owner of the job will run the step again.
    public func fenced<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await store.fenced(job.id, epoch: job.epoch, body)
    }

    /// Throws `CancellationError` when the job has been cancelled or this worker is shutting down or has
    /// lost the job's lease, or when the lease, by the worker's own clock, is too close to its end to
    /// start something; long steps call it between units of work, and before anything they start in
    /// another system (a helm run). A worker resumed after a freeze thus stops here at once, even before
    /// its lease watch has run.
    public func checkpoint() throws {
        try Task.checkCancellation()
        guard leaseHolds() else { throw CancellationError() }
    }

    /// The payload decoded as `T`.
    public func payload<T: Decodable>(as type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(job.payload.utf8))
        } catch {
            throw StepFailure.permanent("the job's payload is not valid for \(job.kind): \(error)")
        }
    }
}

import Foundation
import ServiceRuntime

/// Where a job is in its life. `retrying` means waiting for its due time after a retryable failure.
public enum JobStatus: String, Sendable, Codable, CaseIterable {
    case queued, running, retrying, succeeded, failed, cancelled

    var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

public enum StepStatus: String, Sendable, Codable {
    case pending, running, succeeded, failed, retrying, cancelled
}

/// A job as a worker holds it after claiming it.
public struct ClaimedJob: Sendable {
    public let id: UUID
    public let kind: String
    public let storeID: UUID?
    public let tenantID: UUID?
    public let steps: [String]
    /// The first unfinished step: where this run starts.
    public let currentStep: Int
    /// The attempt number of the current step in this run (1 for the first try).
    public let stepAttempt: Int
    public let payload: String
    /// This claim's fencing token: every write for it is conditional on the job still being `running`
    /// at this epoch, so a claim that was reaped (or superseded by a later claim) can record nothing.
    public let epoch: Int
    /// Seconds from the job's creation to this claim, and from its due time (creation, or a retry's
    /// time) to this claim: for the job-duration and pickup-delay metrics.
    public internal(set) var ageAtClaim: Double = 0
    public internal(set) var pickupDelay: Double = 0
    /// When this process read the claim, by its own clock.
    public let claimedAt = ContinuousClock.now
    /// Seconds from the job's creation to now, for the job-duration metric.
    public var age: Double { ageAtClaim + (ContinuousClock.now - claimedAt).inSeconds }
    /// The trace this job continues (see `NewJob.traceparent`).
    public internal(set) var traceparent: String? = nil
}

/// One step of a job as readers see it.
public struct StepSnapshot: Sendable, Codable, Equatable {
    public let position: Int
    public let name: String
    public let status: StepStatus
    public let attempts: Int
    public let startedAt: Date?
    public let finishedAt: Date?
    public let durationMs: Double?
    public let message: String?
}

/// One row of a job's history: a transition of the job (step nil) or of one attempt of a step.
public struct TransitionSnapshot: Sendable, Codable, Equatable {
    public let id: Int
    public let step: String?
    public let position: Int?
    public let attempt: Int
    public let status: String
    public let workerID: String?
    public let at: Date
    public let durationMs: Double?
    public let message: String?
}

/// A job as readers see it: status, steps, progress and, on request, its full history.
public struct JobSnapshot: Sendable, Codable, Equatable {
    public let id: UUID
    public let kind: String
    public let storeID: UUID?
    public let tenantID: UUID?
    public let status: JobStatus
    public let currentStep: Int
    public let workerID: String?
    public let cancelRequested: Bool
    public let error: String?
    public let createdAt: Date
    public let startedAt: Date?
    public let finishedAt: Date?
    public let updatedAt: Date
    public let steps: [StepSnapshot]
    public var transitions: [TransitionSnapshot]?

    /// Finished steps over all steps, from 0 to 1.
    public var progress: Double {
        guard !steps.isEmpty else { return status == .succeeded ? 1 : 0 }
        let done = steps.filter { $0.status == .succeeded }.count
        return Double(done) / Double(steps.count)
    }
}

/// What a producer asks the engine to run.
public struct NewJob: Sendable {
    public var id: UUID
    public var kind: String
    public var steps: [String]
    public var storeID: UUID?
    public var tenantID: UUID?
    /// JSON text handed to every step.
    public var payload: String
    /// The trace the job continues (W3C `traceparent`); by default the producer's current one, when
    /// tracing is on.
    public var traceparent: String?

    public init(id: UUID = UUID(), kind: String, steps: [String], storeID: UUID? = nil, tenantID: UUID? = nil, payload: String = "{}",
                traceparent: String? = Telemetry.currentTraceparent()) {
        precondition(!steps.isEmpty, "a job has at least one step")
        self.id = id
        self.kind = kind
        self.steps = steps
        self.storeID = storeID
        self.tenantID = tenantID
        self.payload = payload
        self.traceparent = traceparent
    }
}

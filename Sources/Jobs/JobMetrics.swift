import ServiceRuntime

/// Counters and histograms of one worker process, rendered in the Prometheus text format. Label
/// values come from small fixed sets (job kinds, step names, statuses, failure causes), never from
/// IDs or messages, so the number of series stays bounded.
public final class JobMetrics: Sendable {
    private struct State {
        var jobsStarted: [String: Int] = [:]
        var jobsFinished: [String: Int] = [:]
        var jobDurations: [String: Histogram] = [:]
        var pickupDelays: [String: Histogram] = [:]
        var stepFailures: [String: Int] = [:]
        var retries: [String: Int] = [:]
        var reaped = 0
        var swept = 0
        var stepDurations: [String: Histogram] = [:]
    }

    static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]
    /// Whole jobs: a store create takes from seconds (simulated) to many minutes (image pulls).
    static let jobBounds: [Double] = [0.5, 1, 2.5, 5, 10, 20, 30, 60, 90, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600]
    /// Queue waits: milliseconds when workers keep up, minutes when they do not.
    static let pickupBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]
    private let state = LockedState(State())

    public init() {}

    func jobStarted(_ job: ClaimedJob) {
        let labels = "kind=\"\(Self.escape(job.kind))\""
        state.withLock { state in
            state.jobsStarted[labels, default: 0] += 1
            state.pickupDelays[labels, default: Histogram(bounds: Self.pickupBounds)].observe(job.pickupDelay)
        }
    }

    /// `seconds`: from the job's creation to now (queue time, retries and every run included).
    func jobFinished(kind: String, status: JobStatus, seconds: Double) {
        let key = "kind=\"\(Self.escape(kind))\",status=\"\(status.rawValue)\""
        state.withLock { state in
            state.jobsFinished[key, default: 0] += 1
            state.jobDurations[key, default: Histogram(bounds: Self.jobBounds)].observe(seconds)
        }
    }

    /// One step attempt ended; `cause` is nil when it succeeded.
    func stepFinished(kind: String, step: String, seconds: Double, cause: String?) {
        let labels = "kind=\"\(Self.escape(kind))\",step=\"\(Self.escape(step))\""
        state.withLock { state in
            state.stepDurations["\(labels),outcome=\"\(cause == nil ? "succeeded" : "failed")\"", default: Histogram(bounds: Self.bounds)].observe(seconds)
            if let cause { state.stepFailures["\(labels),cause=\"\(Self.escape(cause))\"", default: 0] += 1 }
        }
    }

    func retryScheduled(kind: String, step: String, cause: String) {
        state.withLock { $0.retries["kind=\"\(Self.escape(kind))\",step=\"\(Self.escape(step))\",cause=\"\(Self.escape(cause))\"", default: 0] += 1 }
    }

    func leasesReaped(_ count: Int) { state.withLock { $0.reaped += count } }
    func jobsSwept(_ count: Int) { state.withLock { $0.swept += count } }

    /// The Prometheus exposition of everything counted so far. Every family is announced (HELP and
    /// TYPE) even before its first sample, so dashboards and alerts can be checked against a fresh process.
    public func render() -> String {
        let state = state.withLock { $0 }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func counters(_ name: String, _ values: [String: Int]) {
            for (labels, value) in values.sorted(by: { $0.key < $1.key }) { out += "\(name){\(labels)} \(value)\n" }
        }
        func histograms(_ name: String, _ values: [String: Histogram]) {
            for (labels, histogram) in values.sorted(by: { $0.key < $1.key }) { out += histogram.render(name, labels: labels) }
        }
        family("storefleet_jobs_started_total", "counter", "Job runs this worker started (a job resumed after a crash or retry counts again), by kind.")
        counters("storefleet_jobs_started_total", state.jobsStarted)
        family("storefleet_jobs_finished_total", "counter", "Jobs this worker ended, by kind and final status.")
        counters("storefleet_jobs_finished_total", state.jobsFinished)
        family("storefleet_job_duration_seconds", "histogram", "Time from a job's creation to its end (queue, retries and every run included), by kind and final status.")
        histograms("storefleet_job_duration_seconds", state.jobDurations)
        family("storefleet_job_pickup_delay_seconds", "histogram", "Time from a job run's due time (creation or retry time) to its claim by this worker, by kind.")
        histograms("storefleet_job_pickup_delay_seconds", state.pickupDelays)
        family("storefleet_step_duration_seconds", "histogram", "Duration of step attempts, by kind, step and outcome (succeeded or failed).")
        histograms("storefleet_step_duration_seconds", state.stepDurations)
        family("storefleet_step_failures_total", "counter", "Step attempts that failed, by kind, step and cause (postgres, redis, timeout, helm, kubernetes-<reason>, step, other).")
        counters("storefleet_step_failures_total", state.stepFailures)
        family("storefleet_step_retries_total", "counter", "Retries scheduled, by kind, step and the cause of the failed attempt.")
        counters("storefleet_step_retries_total", state.retries)
        family("storefleet_leases_reaped_total", "counter", "Jobs requeued by this worker's reaper after their lease expired.")
        out += "storefleet_leases_reaped_total \(state.reaped)\n"
        family("storefleet_jobs_swept_total", "counter", "Jobs re-dispatched by this worker's sweeper because Redis had lost them.")
        out += "storefleet_jobs_swept_total \(state.swept)\n"
        return out
    }

    static func escape(_ value: String) -> String { prometheusLabelValue(value) }
}

import ServiceRuntime

/// Counters and step-duration histograms of one worker process, rendered in the Prometheus text format.
public final class JobMetrics: Sendable {
    private struct State {
        var jobsStarted: [String: Int] = [:]
        var jobsFinished: [String: Int] = [:]
        var stepFailures: [String: Int] = [:]
        var retries: [String: Int] = [:]
        var reaped = 0
        var swept = 0
        var stepDurations: [String: Histogram] = [:]
    }

    static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]
    private let state = LockedState(State())

    public init() {}

    func jobStarted(kind: String) {
        state.withLock { $0.jobsStarted[kind, default: 0] += 1 }
    }

    func jobFinished(kind: String, status: JobStatus) {
        state.withLock { $0.jobsFinished["kind=\"\(kind)\",status=\"\(status.rawValue)\"", default: 0] += 1 }
    }

    func stepFinished(kind: String, step: String, seconds: Double, failed: Bool) {
        let key = "kind=\"\(kind)\",step=\"\(step)\""
        state.withLock { state in
            state.stepDurations[key, default: Histogram(bounds: Self.bounds)].observe(seconds)
            if failed { state.stepFailures[key, default: 0] += 1 }
        }
    }

    func retryScheduled(kind: String, step: String) {
        state.withLock { $0.retries["kind=\"\(kind)\",step=\"\(step)\"", default: 0] += 1 }
    }

    func leasesReaped(_ count: Int) { state.withLock { $0.reaped += count } }
    func jobsSwept(_ count: Int) { state.withLock { $0.swept += count } }

    /// The Prometheus exposition of everything counted so far.
    public func render() -> String {
        state.withLock { state in
            var out = ""
            func family(_ name: String, _ type: String, _ help: String) {
                out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            }
            family("storefleet_jobs_started_total", "counter", "Jobs this worker started running (including resumed runs).")
            for (kind, value) in state.jobsStarted.sorted(by: { $0.key < $1.key }) {
                out += "storefleet_jobs_started_total{kind=\"\(kind)\"} \(value)\n"
            }
            family("storefleet_jobs_finished_total", "counter", "Jobs this worker ended, by final status.")
            for (labels, value) in state.jobsFinished.sorted(by: { $0.key < $1.key }) { out += "storefleet_jobs_finished_total{\(labels)} \(value)\n" }
            family("storefleet_step_failures_total", "counter", "Step attempts that failed, by step.")
            for (labels, value) in state.stepFailures.sorted(by: { $0.key < $1.key }) { out += "storefleet_step_failures_total{\(labels)} \(value)\n" }
            family("storefleet_step_retries_total", "counter", "Retries scheduled, by step.")
            for (labels, value) in state.retries.sorted(by: { $0.key < $1.key }) { out += "storefleet_step_retries_total{\(labels)} \(value)\n" }
            family("storefleet_leases_reaped_total", "counter", "Jobs requeued by this worker's reaper after their lease expired.")
            out += "storefleet_leases_reaped_total \(state.reaped)\n"
            family("storefleet_jobs_swept_total", "counter", "Jobs re-dispatched by this worker's sweeper because Redis had lost them.")
            out += "storefleet_jobs_swept_total \(state.swept)\n"
            family("storefleet_step_duration_seconds", "histogram", "Duration of step attempts, by step.")
            for (labels, histogram) in state.stepDurations.sorted(by: { $0.key < $1.key }) {
                out += histogram.render("storefleet_step_duration_seconds", labels: labels)
            }
            return out
        }
    }
}

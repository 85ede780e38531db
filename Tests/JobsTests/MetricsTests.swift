import Foundation
@testable import Jobs
import SyntheticJobs
import Postgres
import ServiceRuntime
import Testing
import TestSupport

/// What a worker's /metrics says after real jobs: the series the Grafana boards and alert rules read
/// (charts/platform/files/observability), with bounded labels.
@Suite("Worker metrics", .serialized)
struct MetricsTests {
    @Test("a job that retried once and one that failed for good: finished by status, durations, pickup delay, failures and retries by cause")
    func engineMetrics() async throws {
        try await EngineHarness.with { h in
            let metrics = JobMetrics()
            // Nothing run yet: every family is announced, so dashboards can be checked against a fresh worker.
            let fresh = metrics.render()
            for family in ["storefleet_jobs_finished_total", "storefleet_job_duration_seconds", "storefleet_job_pickup_delay_seconds",
                           "storefleet_step_duration_seconds", "storefleet_step_failures_total", "storefleet_step_retries_total",
                           "storefleet_leases_reaped_total", "storefleet_jobs_swept_total"] {
                #expect(fresh.contains("# TYPE \(family) "), "\(family) not announced")
            }
            h.startWorker(metrics: metrics)
            let retried = try await h.queue.enqueue(h.scripted(["two": .init(failTimes: 1)]))
            let failed = try await h.queue.enqueue(h.scripted(["one": .init(permanent: true)]))
            let jobs = try await h.waitUntilFinished([retried, failed])
            #expect(jobs.map(\.status) == [.succeeded, .failed])
            let text = metrics.render()
            let kind = SyntheticJobs.scriptedKind
            #expect(text.contains("storefleet_jobs_finished_total{kind=\"\(kind)\",status=\"succeeded\"} 1"))
            #expect(text.contains("storefleet_jobs_finished_total{kind=\"\(kind)\",status=\"failed\"} 1"))
            #expect(text.contains("storefleet_job_duration_seconds_count{kind=\"\(kind)\",status=\"succeeded\"} 1"))
            // The retry delay (≥ 0.2 s) is part of the job's time to finish.
            let duration = try #require(Self.value(text, "storefleet_job_duration_seconds_sum{kind=\"\(kind)\",status=\"succeeded\"}"))
            #expect(duration >= 0.2)
            // Two first runs and one run after the retry: three pickups.
            #expect(text.contains("storefleet_job_pickup_delay_seconds_count{kind=\"\(kind)\"} 3"))
            #expect(text.contains("storefleet_step_duration_seconds_count{kind=\"\(kind)\",step=\"two\",outcome=\"failed\"} 1"))
            #expect(text.contains("storefleet_step_duration_seconds_count{kind=\"\(kind)\",step=\"two\",outcome=\"succeeded\"} 1"))
            #expect(text.contains("storefleet_step_retries_total{kind=\"\(kind)\",step=\"two\",cause=\"step\"} 1"))
            #expect(text.contains("storefleet_step_failures_total{kind=\"\(kind)\",step=\"one\",cause=\"step\"} 1"))
            // The same causes are in the history, for /api/stats/series.
            let causes = try await h.postgres.query("""
                SELECT status, cause FROM job_transitions WHERE job_id IN (\(retried), \(failed)) AND step IS NOT NULL AND status <> 'running' ORDER BY id
                """).rows.map { "\(try $0.decode("status", as: String.self)):\(try $0.decode("cause", as: String?.self) ?? "-")" }
            #expect(causes.sorted() == ["failed:step", "retrying:step", "succeeded:-", "succeeded:-", "succeeded:-"])
            #expect(!text.contains(retried.uuidString.lowercased()) && !text.contains(failed.uuidString.lowercased()), "no job IDs in labels")
        }
    }

    @Test("failure causes are a small fixed set")
    func causes() {
        #expect(FailureClassifier.cause(of: StepFailure.retryable("x")) == "step")
        #expect(FailureClassifier.cause(of: StepFailure.retryable("x", cause: "helm")) == "helm")
        #expect(FailureClassifier.cause(of: TimeoutError(seconds: 1, operation: "step one")) == "timeout")
        #expect(FailureClassifier.cause(of: CancellationError()) == "cancelled")
        struct Unknown: Error {}
        #expect(FailureClassifier.cause(of: Unknown()) == "other")
    }

    static func value(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }
}

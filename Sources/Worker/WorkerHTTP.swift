import Hummingbird
import Jobs
import KubeClient
import Platform
import Provisioning

/// The worker's small HTTP port: liveness, readiness (Postgres and Redis reachable) and Prometheus
/// metrics (step durations and failures per step, retries, running jobs and helm processes).
enum WorkerHTTP {
    static func router(worker: JobWorker, backends: Backends, metrics: JobMetrics, kube: KubeMetrics) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            let problems = await backends.check()
            guard problems.isEmpty else {
                let text = problems.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
                return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
            }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            var text = metrics.render()
            text += "# HELP storefleet_worker_running_jobs Jobs this worker is running now.\n# TYPE storefleet_worker_running_jobs gauge\n"
            text += "storefleet_worker_running_jobs \(worker.runningCount)\n"
            text += "# HELP storefleet_worker_helm_processes helm processes this worker is running now.\n# TYPE storefleet_worker_helm_processes gauge\n"
            text += "storefleet_worker_helm_processes \(HelmRunner.running)\n"
            text += HelmRunner.renderMetrics()
            text += kube.render()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        return router
    }
}

import Foundation
import Jobs
import ServiceRuntime

/// Everything the worker reads from its environment, validated before anything starts.
struct WorkerSettings: Sendable {
    var workerID: String
    var concurrency: Int
    var backends: Backends.Settings
    var logging: LoggingSettings

    init(from reader: ConfigurationReader) throws(ConfigurationError) {
        logging = try LoggingSettings(from: reader)
        let host = ProcessInfo.processInfo.hostName
        workerID = reader.string("WORKER_ID", default: "\(host)-\(getpid())")
        concurrency = try reader.int("WORKER_CONCURRENCY", default: 4, range: 1...256)
        backends = try Backends.Settings(from: reader, applicationName: "storefleet-worker")
    }
}

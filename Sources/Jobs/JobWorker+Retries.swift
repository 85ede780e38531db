import Foundation

/// Promoting retries: due entries of the retry set move to the queue, by Redis' own clock.
extension JobWorker {
    func promoteDueRetries() async {
        _ = try? await redis.run(EngineScripts.promoteDue, keys: [keys.retry, keys.queue], arguments: [500])
    }
}

import Foundation

/// Retention, by the maintenance leader: folding the job counters' deltas on every pass, and pruning
/// what the retention settings no longer keep once per `retention.interval`.
extension JobWorker {
    func keepTidy() async {
        do {
            try await store.foldJobCounts()
        } catch {
            logger.warning("cannot fold job counters; will retry", metadata: ["error": "\(error)"])
        }
        let due = state.withLock { state -> Bool in
            let now = ContinuousClock.now
            guard state.lastPrune.map({ now - $0 >= .seconds(settings.retention.interval) }) ?? true else { return false }
            state.lastPrune = now
            return true
        }
        guard due else { return }
        do {
            let pruned = try await store.prune(settings.retention)
            if !pruned.isEmpty { logger.notice("pruned what retention no longer keeps", metadata: ["pruned": "\(pruned)"]) }
        } catch {
            logger.warning("pruning failed; will retry next interval", metadata: ["error": "\(error)"])
        }
    }
}

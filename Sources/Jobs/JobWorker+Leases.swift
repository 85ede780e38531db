import Foundation

/// Keeping leases: renewals at a fixed rate, in a loop of their own, and a watch that stops a job whose
/// lease could end before it is renewed.
extension JobWorker {
    /// Renews the leases of running claims and stops those that were cancelled or lost. Its own loop,
    /// not the heartbeat's: a Redis stall must not delay the renewals.
    func renewLeases() async {
        let claims = state.withLock { Array($0.running.keys) }
        guard !claims.isEmpty else { return }
        let sent = ContinuousClock.now
        var owned: [JobStore.Claim: Bool]?
        do {
            // Not under a timeout: one cannot stop the query already sent (the task group would wait for
            // it anyway) and would throw away a renewal that did land. A renewal stuck behind a busy
            // pool is `stopJobsOutlivingTheirLeases`'s business; when it lands late, its lease still
            // counts from when it was sent.
            owned = try await store.renewLeases(claims, lease: settings.lease)
        } catch {
            logger.warning("cannot renew leases; will retry", metadata: ["error": "\(error)"])
        }
        let toCancel = state.withLock { state -> [Task<Void, any Error>] in
            var tasks: [Task<Void, any Error>] = []
            guard let owned else { return tasks }
            for claim in claims where state.running[claim] != nil && state.running[claim]?.stopReason == nil {
                switch owned[claim] {
                case nil: state.running[claim]?.stopReason = .leaseLost
                case true?: state.running[claim]?.stopReason = .cancelRequested
                case false?:
                    state.running[claim]?.leaseEnds = sent + .seconds(settings.lease)
                    continue
                }
                if let task = state.running[claim]?.task { tasks.append(task) }
            }
            return tasks
        }
        toCancel.forEach { $0.cancel() }
    }

    /// Stops a job whose lease could run out before it is renewed (Postgres unreachable from this
    /// worker, or renewals stuck behind a busy pool), before another worker's reaper can hand it out:
    /// the same step must never run in two places. The margin leaves time for the step to stop (helm
    /// gets SIGTERM) while the lease still holds.
    func stopJobsOutlivingTheirLeases() {
        let stopBy = ContinuousClock.now + .seconds(settings.leaseStopMargin)
        let toCancel = state.withLock { state -> [Task<Void, any Error>] in
            var tasks: [Task<Void, any Error>] = []
            for (claim, job) in state.running where job.stopReason == nil && job.leaseEnds < stopBy {
                state.running[claim]?.stopReason = .leaseLost
                if let task = job.task { tasks.append(task) }
            }
            return tasks
        }
        guard !toCancel.isEmpty else { return }
        logger.error("stopping jobs whose leases could not be renewed in time; another worker will run them", metadata: ["count": "\(toCancel.count)"])
        toCancel.forEach { $0.cancel() }
    }
}

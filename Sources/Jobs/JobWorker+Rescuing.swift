import Foundation
import Redis

/// Rescuing: what brings a job back when whoever had it is gone. The reaper (expired leases), the
/// reclaim of dead workers' processing lists and the sweeper (due jobs Redis does not carry, or carries
/// where nobody reads) run on one worker at a time under a short Redis lock; every worker also
/// reconciles its own processing list.
extension JobWorker {
    /// Reaper and sweeper, run by one worker at a time under a short Redis lock.
    func maintain() async {
        guard !isStopping else { return }
        do {
            let lock = try await redis.send(RedisCommand("SET", keys.maintenanceLock, settings.workerID, "NX", "PX", 5000))
            guard lock == .status("OK") else { return }
            defer { Task { _ = try? await self.redis.run(Self.unlock, keys: [self.keys.maintenanceLock], arguments: [self.settings.workerID]) } }

            let moved = try await redis.run(EngineScripts.reclaimDeadWorkers, keys: [keys.workers, keys.queue], arguments: [keys.prefix]).int ?? 0
            if moved > 0 { logger.notice("requeued job IDs held by workers whose heartbeat stopped", metadata: ["count": "\(moved)"]) }

            let reaped = try await store.reapExpiredLeases()
            if !reaped.isEmpty {
                metrics.leasesReaped(reaped.count)
                logger.notice("requeued jobs whose lease expired", metadata: ["count": "\(reaped.count)"])
                await queue.dispatch(reaped, ahead: true)
            }
            try await sweep()
            await keepTidy()
        } catch {
            logger.warning("maintenance pass failed; will retry", metadata: ["error": "\(error)"])
        }
    }

    /// Re-dispatches due jobs that Redis does not carry (a failed push, a Redis that lost its data), and
    /// those overdue by more than `strandBound` even where Redis is said to carry them: an ID can sit
    /// in a processing list that no live slot will read. A duplicate ID is harmless, the claim refuses
    /// it; each overdue job is pushed at most once per `strandBound`.
    private func sweep() async throws {
        let overdue = try await store.overdueJobs(grace: settings.sweepGrace)
        guard !overdue.isEmpty else { return }
        let known = try await redis.send(RedisCommand("SMISMEMBER", [keys.dispatched] + overdue.map(\.id))).array ?? []
        let lost = zip(overdue, known).filter { $0.1.int != 1 }.map(\.0)
        if !lost.isEmpty {
            metrics.jobsSwept(lost.count)
            logger.notice("re-dispatched jobs missing from Redis", metadata: ["count": "\(lost.count)"])
            // After Redis lost its data, jobs that had already begun go ahead again, as the reaper
            // put them; the rest keep their order at the back.
            await queue.dispatch(lost.filter(\.begun).map(\.id), ahead: true)
            await queue.dispatch(lost.filter { !$0.begun }.map(\.id))
        }
        let lostIDs = Set(lost.map(\.id))
        let stranded = overdue.filter { !lostIDs.contains($0.id) && $0.overdue > settings.strandBound }.map(\.id)
        guard !stranded.isEmpty else { return }
        let hold = Int(settings.strandBound * 1000)
        let pushed = try await redis.run(EngineScripts.redispatchOverdue, keys: [keys.queue, keys.dispatched],
                                         arguments: [keys.sweptPrefix, hold] as [any RedisArgument] + stranded).int ?? 0
        if pushed > 0 {
            metrics.jobsSwept(pushed)
            logger.notice("re-dispatched jobs overdue although Redis was said to hold them", metadata: ["count": "\(pushed)"])
        }
    }

    /// Puts back IDs in this worker's processing list that no slot holds: a BLMOVE whose reply was lost
    /// moved one there unseen; a finish that failed left one; a container restarted under the same
    /// worker ID inherited the list. `all` (at start-up, before any slot runs) moves every ID; otherwise
    /// an ID moves when two reconciles in a row found it unheld, since a slot's BLMOVE lands in the list
    /// a moment before the slot records that it holds the ID.
    func requeueStrandedIDs(all: Bool) async {
        let processing = keys.processing(settings.workerID)
        guard let listed = try? await redis.send(RedisCommand("LRANGE", processing, 0, -1)).array else { return }
        let ids = listed.compactMap { $0.string }
        let toMove = state.withLock { state -> [String] in
            let unheld = Set(ids.filter { UUID(uuidString: $0).map { !state.held.contains($0) } ?? true })
            defer { state.suspects = all ? [] : unheld }
            return all ? ids : Array(unheld.intersection(state.suspects))
        }
        guard !toMove.isEmpty else { return }
        guard let moved = try? await redis.run(EngineScripts.requeueOwn, keys: [processing, keys.queue], arguments: toMove).int, moved > 0 else { return }
        logger.notice("requeued job IDs stranded in this worker's processing list", metadata: ["count": "\(moved)"])
    }

    static let unlock = RedisScript(name: "unlock", source: """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """)
}

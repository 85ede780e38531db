import Foundation
import Redis
import ServiceRuntime

/// Taking and claiming: each slot moves an ID from the queue into this worker's processing list
/// (BLMOVE), claims the job in Postgres, forgets the ID in Redis and runs the job.
extension JobWorker {
    func takeJobs(slot: Int) async {
        let connection = redis.makeBlockingConnection(label: "\(settings.workerID).\(slot)")
        let processing = keys.processing(settings.workerID)
        var failures = 0
        while !isStopping {
            do {
                guard let raw = try await connection.blockingMove(from: keys.queue, to: processing, wait: settings.pollWait) else {
                    continue
                }
                failures = 0
                let text = String(decoding: raw, as: UTF8.self)
                guard let id = UUID(uuidString: text) else {
                    logger.warning("dropping a malformed job ID from the queue", metadata: ["value": "\(text.prefix(60))"])
                    _ = try? await redis.send("LREM", processing, 1, raw)
                    continue
                }
                await take(id, processing: processing)
            } catch {
                // A BLMOVE whose reply was lost may have moved an ID into the processing list all the
                // same: `requeueStrandedIDs` finds it there, held by no slot, and puts it back.
                failures += 1
                let delay = Backoff(initialDelay: 0.1, maxDelay: 5).delay(attempt: failures)
                logger.warning("cannot take jobs from Redis; retrying", metadata: ["error": "\(error)", "in": "\(formatSeconds(delay))"])
                try? await Task.sleep(for: .seconds(delay))
            }
        }
        await connection.close()
    }

    func take(_ id: UUID, processing: String) async {
        // One job, one slot: a slot of this process may still be running an earlier claim of this job
        // (stuck in a call that ignores cancellation after its lease was reaped). Claiming it again here
        // would be fenced, but would also run its steps twice at once; it waits instead, and any worker
        // may take it then.
        let held = state.withLock { state in state.held.insert(id).inserted }
        guard held else {
            logger.warning("a slot of this worker still holds this job; trying again later", metadata: ["job": "\(id.lower)"])
            await later(id, processing: processing)
            return
        }
        defer { _ = state.withLock { $0.held.remove(id) } }

        let outcome: JobStore.ClaimOutcome
        let asked = ContinuousClock.now
        do {
            outcome = try await claims.submit(id)
        } catch {
            // Postgres is unreachable: put the ID back for later and pause this slot briefly.
            logger.warning("cannot claim job; handing it back", metadata: ["job": "\(id.lower)", "error": "\(error)"])
            _ = try? await redis.pipeline([RedisCommand("LREM", processing, 1, id), RedisCommand("RPUSH", keys.queue, id)])
            try? await Task.sleep(for: .seconds(0.5))
            return
        }
        switch outcome {
        case .claimed(let job, let cancelRequested):
            // The job is now owned in Postgres under a lease; Redis need not remember it. Should this
            // fail, the ID stays in the processing list until `requeueStrandedIDs` returns it (the claim
            // then refuses it as taken).
            do {
                try await finishes.submit(id)
            } catch {
                logger.warning("cannot forget a claimed job's ID in Redis; the reconcile will", metadata: ["job": "\(id.lower)", "error": "\(error)"])
            }
            await execute(job, cancelRequested: cancelRequested, leaseEnds: asked + .seconds(settings.lease))
        case .notClaimable:
            _ = try? await finishes.submit(id)
        case .early:
            _ = try? await redis.send("LREM", processing, 1, id)
        case .busy:
            await later(id, processing: processing)
        }
    }

    /// Puts an ID back for another try in `busyDelay` (through the retry set, so any worker may take it).
    private func later(_ id: UUID, processing: String) async {
        _ = try? await redis.run(EngineScripts.schedule, keys: [keys.retry, keys.dispatched], arguments: [id, Int(settings.busyDelay * 1000)])
        _ = try? await redis.send("LREM", processing, 1, id)
    }
}

import Foundation
import Logging
import Postgres
import ServiceRuntime
import Tracing

/// Running a claimed job: its steps in order from the first unfinished one, each under its timeout,
/// every outcome recorded under the claim's epoch.
extension JobWorker {
    enum Persisted { case done(Int?), abandoned }

    /// With tracing on, a run is a span in the trace of whoever enqueued the job (its `traceparent`),
    /// with a child span per step attempt; a job run again by another worker (a crash, a retry) adds
    /// its run to the same trace.
    func execute(_ job: ClaimedJob, cancelRequested: Bool, leaseEnds: ContinuousClock.Instant) async {
        guard Telemetry.enabled else {
            return await run(job, cancelRequested: cancelRequested, leaseEnds: leaseEnds)
        }
        let span = startSpan("job \(job.kind)", context: Telemetry.context(traceparent: job.traceparent), ofKind: .consumer)
        span.attributes["storefleet.job.id"] = job.id.uuidString.lowercased()
        span.attributes["storefleet.job.kind"] = job.kind
        span.attributes["storefleet.job.epoch"] = job.epoch
        span.attributes["storefleet.worker"] = settings.workerID
        if let store = job.storeID { span.attributes["storefleet.store.id"] = store.uuidString.lowercased() }
        await InstrumentationContext.withValue(span.context) {
            await run(job, cancelRequested: cancelRequested, leaseEnds: leaseEnds)
        }
        span.end()
    }

    private func run(_ job: ClaimedJob, cancelRequested: Bool, leaseEnds: ContinuousClock.Instant) async {
        let claim = JobStore.Claim(job: job.id, epoch: job.epoch)
        var logger = self.logger
        logger[metadataKey: "job"] = "\(job.id.uuidString.lowercased())"
        logger[metadataKey: "epoch"] = "\(job.epoch)"
        logger[metadataKey: "kind"] = "\(job.kind)"
        if let store = job.storeID { logger[metadataKey: "store"] = "\(store.uuidString.lowercased())" }
        state.withLock { $0.running[claim] = RunningJob(task: nil, stopReason: cancelRequested ? .cancelRequested : nil, leaseEnds: leaseEnds) }
        defer { _ = state.withLock { $0.running.removeValue(forKey: claim) } }
        metrics.jobStarted(job)

        guard let definition = definitions[job.kind], definition.stepNames == job.steps else {
            let message = definitions[job.kind] == nil
                ? "no worker knows how to run jobs of kind \"\(job.kind)\"; deploy a worker version that does"
                : "this worker's steps for \(job.kind) (\(definitions[job.kind]!.stepNames.joined(separator: ", "))) differ from the job's (\(job.steps.joined(separator: ", "))); deploy matching workers"
            await end(job, definition: definitions[job.kind], position: min(job.currentStep, job.steps.count - 1), durationMs: 0, status: .failed, message: message, logger: logger)
            return
        }

        var cursor = job.currentStep
        var attempt = job.stepAttempt
        while cursor < definition.steps.count {
            let position = cursor
            let step = definition.steps[position]
            var stepLogger = logger
            stepLogger[metadataKey: "step"] = "\(step.name)"
            stepLogger[metadataKey: "attempt"] = "\(attempt)"

            // Attempts cut short by a dying worker count too, or a step that crashes its worker would be
            // retried forever; but workers also die for reasons of their own (rolling deploys, node
            // drains), so such attempts get a few more chances than the step's retry budget.
            if attempt > step.retry.maxAttempts + Self.interruptionAllowance {
                await end(job, definition: definition, position: position, durationMs: 0, status: .failed,
                          message: "step \(step.name) gave up after \(attempt - 1) attempts, its worker having stopped mid-step again and again; if the step itself crashes the worker, its logs say why", logger: stepLogger)
                return
            }
            if stopReason(claim) == .cancelRequested {
                await end(job, definition: definition, position: position, durationMs: 0, status: .cancelled,
                          message: "cancelled before step \(step.name)", logger: stepLogger)
                return
            }

            var stepContext = StepContext(job: job, step: step.name, attempt: attempt, logger: stepLogger, store: store, position: position)
            stepContext.leaseHolds = { [weak self] in self?.leaseHolds(claim) ?? false }
            stepContext.maxAttempts = step.retry.maxAttempts
            let context = stepContext
            let started = ContinuousClock.now
            let stepSpan: (any Span)? = Telemetry.enabled ? startSpan("step \(step.name)") : nil
            stepSpan?.attributes["storefleet.step"] = step.name
            stepSpan?.attributes["storefleet.step.attempt"] = attempt
            let spanContext = stepSpan?.context ?? InstrumentationContext.current
            let task = Task {
                // The step's Kubernetes calls and helm runs are children of its span.
                try await InstrumentationContext.withValue(spanContext) {
                    try await withTimeout(seconds: step.timeout, operation: "step \(step.name)") { try await step.run(context) }
                }
            }
            let stopEarly = state.withLock { state -> Bool in
                state.running[claim]?.task = task
                return state.running[claim]?.stopReason != nil
            }
            if stopEarly { task.cancel() }
            let result = await task.result
            let elapsed = ContinuousClock.now - started
            let durationMs = elapsed.inSeconds * 1000
            let failureCause: String? = if case .failure(let error) = result { FailureClassifier.cause(of: error) } else { nil }
            metrics.stepFinished(kind: job.kind, step: step.name, seconds: durationMs / 1000, cause: failureCause)
            if let stepSpan {
                stepSpan.attributes["storefleet.step.outcome"] = failureCause == nil ? "succeeded" : "failed"
                if case .failure(let error) = result {
                    stepSpan.attributes["storefleet.step.cause"] = failureCause
                    stepSpan.recordError(error)
                    stepSpan.setStatus(SpanStatus(code: .error, message: FailureClassifier.message(of: error)))
                }
                if let reason = stopReason(claim) { stepSpan.attributes["storefleet.step.stopped"] = "\(reason)" }
                stepSpan.end()
            }

            // A step told to stop (its lease in doubt, a cancellation, a shutdown) records no success even
            // when it finished: a lost lease means another claim may be running it, and the others are
            // handled as the stop asks.
            if let reason = stopReason(claim) {
                await stopped(job, reason: reason, definition: definition, position: position, durationMs: durationMs, step: step.name, logger: stepLogger)
                return
            }
            switch result {
            case .success:
                let isLast = position == definition.steps.count - 1
                let success = JobStore.StepSuccess(job: job.id, epoch: job.epoch, position: position, durationMs: durationMs, isLast: isLast)
                let outcome = await persist(job.id, logger: stepLogger) {
                    switch try await self.successes.submit(success) {
                    case .recorded(let nextAttempt): return nextAttempt
                    case .leaseLost: throw JobStore.LeaseLost(job: job.id)
                    }
                } committed: { now in
                    guard now.epoch == job.epoch else { return false }
                    return isLast ? now.status == .succeeded
                        : now.status == .running && now.currentStep == position + 1 && now.stepAttempt != nil
                } recover: { now in now.stepAttempt }
                guard case .done(let nextAttempt) = outcome else { return }
                if isLast {
                    metrics.jobFinished(kind: job.kind, status: .succeeded, seconds: job.age)
                    stepLogger.info("job succeeded")
                    await dispatchNextForStore(job)
                    return
                }
                cursor = position + 1
                attempt = nextAttempt ?? 1

            case .failure(let error):
                if error is JobStore.LeaseLost {
                    stepLogger.warning("the step found its claim superseded; the job's owner runs it again")
                    return
                }
                let message = FailureClassifier.message(of: error)
                switch FailureClassifier.disposition(of: error) {
                case .retryable(let minimum) where attempt < step.retry.maxAttempts:
                    let delay = step.retry.backoff.delay(attempt: attempt, minimum: minimum ?? 0)
                    stepLogger.warning("step failed; will retry", metadata: ["error": "\(message)", "in": "\(formatSeconds(delay))"])
                    let text = "attempt \(attempt) of \(step.retry.maxAttempts) failed: \(message); retrying in \(formatSeconds(delay))"
                    let outcome = await persist(job.id, logger: stepLogger) {
                        try await self.store.scheduleRetry(job.id, epoch: job.epoch, worker: self.settings.workerID, position: position, durationMs: durationMs, message: text, delay: delay,
                                                           cause: failureCause)
                        return nil
                    } committed: { $0.epoch == job.epoch && $0.status == .retrying && $0.currentStep == position } recover: { _ in nil }
                    guard case .done = outcome else { return }
                    metrics.retryScheduled(kind: job.kind, step: step.name, cause: FailureClassifier.cause(of: error))
                    _ = try? await redis.run(EngineScripts.schedule, keys: [keys.retry, keys.dispatched], arguments: [job.id, Int((delay * 1000).rounded(.up))])
                    return
                case .retryable:
                    await end(job, definition: definition, position: position, durationMs: durationMs, status: .failed,
                              message: "step \(step.name) failed after \(attempt) attempts: \(message)", cause: failureCause, logger: stepLogger)
                    return
                case .permanent:
                    await end(job, definition: definition, position: position, durationMs: durationMs, status: .failed,
                              message: "step \(step.name) failed: \(message)", cause: failureCause, logger: stepLogger)
                    return
                }
            }
        }
    }

    /// A step that was told to stop, whatever its result.
    private func stopped(_ job: ClaimedJob, reason: StopReason, definition: JobDefinition, position: Int, durationMs: Double, step: String,
                         logger: Logger) async {
        switch reason {
        case .leaseLost:
            logger.warning("lost the job's lease; another worker will finish it")
        case .shutdown:
            logger.notice("interrupted by shutdown; handing the job back")
            let outcome = await persist(job.id, logger: logger) {
                try await self.store.release(job.id, epoch: job.epoch, worker: self.settings.workerID, position: position, durationMs: durationMs,
                                             message: "interrupted: worker \(self.settings.workerID) shut down mid-step; another worker continues")
                return nil
            } committed: { $0.epoch != job.epoch || $0.status != .running } recover: { _ in nil }
            if case .done = outcome { await queue.dispatch([job.id]) }
        case .cancelRequested:
            await end(job, definition: definition, position: position, durationMs: durationMs, status: .cancelled,
                      message: "cancelled during step \(step)", cause: "cancelled", logger: logger)
        }
    }

    /// Whether a claim's lease surely holds for longer than the stop margin, and its step was not told to stop.
    func leaseHolds(_ claim: JobStore.Claim) -> Bool {
        let stopBy = ContinuousClock.now + .seconds(settings.leaseStopMargin)
        return state.withLock { state in
            guard let job = state.running[claim] else { return false }
            return job.stopReason == nil && job.leaseEnds > stopBy
        }
    }

    func stopReason(_ claim: JobStore.Claim) -> StopReason? {
        state.withLock { $0.running[claim]?.stopReason }
    }

    private func end(_ job: ClaimedJob, definition: JobDefinition?, position: Int, durationMs: Double, status: JobStatus, message: String,
                     cause: String? = nil, logger: Logger) async {
        var message = message
        var afterwards: (@Sendable () async -> Void)?
        if status == .failed, let beforeFailing = definition?.beforeFailing {
            // What the hook does in other systems (deleting a namespace) cannot be fenced: it only reads
            // here, and acts once this claim's failure has committed (below), when no other claim can
            // be running the job. A claim superseded meanwhile has its failure refused and acts on nothing.
            let prepared = await beforeFailing(job, message)
            message = prepared.message
            afterwards = prepared.afterwards
        }
        var hook: (@Sendable (PostgresConnection) async throws -> Void)?
        if status == .failed, let onFailed = definition?.onFailed {
            hook = { [message] connection in try await onFailed(connection, job, message) }
        } else if status == .cancelled, let onCancelled = definition?.onCancelled {
            hook = { connection in try await onCancelled(connection, job) }
        }
        let finalHook = hook, finalMessage = message
        let restart = status == .failed && definition?.restartAfterFailure == true
        let outcome = await persist(job.id, logger: logger) {
            try await self.store.finish(job, worker: self.settings.workerID, position: position, durationMs: durationMs, status: status,
                                        message: finalMessage, cause: cause, restart: restart, hook: finalHook)
            return nil
        } committed: { $0.epoch == job.epoch && $0.status == status } recover: { _ in nil }
        guard case .done = outcome else { return }
        metrics.jobFinished(kind: job.kind, status: status, seconds: job.age)
        if status == .failed {
            logger.error("job failed", metadata: ["error": "\(finalMessage)"])
            if let afterwards { await afterwards() }
        } else {
            logger.notice("job cancelled")
        }
        await dispatchNextForStore(job)
    }

    /// A store's waiting job (say, a delete that arrived during a create) runs as soon as this one ends.
    private func dispatchNextForStore(_ job: ClaimedJob) async {
        guard let storeID = job.storeID, let next = try? await store.nextWaitingJob(store: storeID) else { return }
        await queue.dispatch([next])
    }

    /// Writes a transition, retrying through Postgres outages with backoff until it lands or the lease is
    /// gone. A write whose reply was lost may have committed: before resending, the job's position is read
    /// back, and `committed` decides whether the write already took effect.
    private func persist(
        _ job: UUID, logger: Logger, _ write: @escaping @Sendable () async throws -> Int?,
        committed: @escaping @Sendable (JobStore.Position) -> Bool,
        recover: @escaping @Sendable (JobStore.Position) -> Int?
    ) async -> Persisted {
        let backoff = Backoff(initialDelay: 0.1, maxDelay: 3)
        var attempt = 0
        var uncertain = false
        while true {
            attempt += 1
            do {
                if uncertain, let now = try await store.position(job), committed(now) {
                    return .done(recover(now))
                }
                return .done(try await write())
            } catch is JobStore.LeaseLost {
                if !uncertain {
                    logger.warning("the job's lease was lost before its transition was recorded; another worker will run the step again")
                    return .abandoned
                }
                uncertain = false
                continue
            } catch {
                if let postgres = error as? PostgresError, !postgres.isTransient {
                    logger.error("cannot record a transition", metadata: ["error": "\(error)"])
                    return .abandoned
                }
                uncertain = true
                let delay = backoff.delay(attempt: attempt)
                logger.warning("cannot record a transition yet; retrying", metadata: ["error": "\(error)", "in": "\(formatSeconds(delay))"])
                try? await Task.sleep(for: .seconds(delay))
            }
        }
    }

    /// Extra attempts a step gets when its earlier ones were cut short by a worker dying.
    static let interruptionAllowance = 3
}

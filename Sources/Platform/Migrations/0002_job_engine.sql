-- The job engine's claim, as one server-side function so that taking a job is a single round trip:
-- lock the row, refuse jobs that are not due or must wait for another job of their store, then mark
-- the job running under a lease and start its current step, recording both transitions.

CREATE FUNCTION job_claim(p_job uuid, p_worker text, p_lease_seconds double precision)
RETURNS TABLE (outcome text, kind text, store_id uuid, tenant_id uuid, steps text[], current_step integer,
               payload jsonb, step_attempt integer, cancel_requested boolean)
LANGUAGE plpgsql AS $$
DECLARE
    j jobs%ROWTYPE;
    step_name text;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'missing'; RETURN NEXT; RETURN;
    END IF;
    IF j.status NOT IN ('queued', 'retrying') THEN
        outcome := 'taken'; RETURN NEXT; RETURN;
    END IF;
    IF j.run_at > now() THEN
        outcome := 'early'; RETURN NEXT; RETURN;
    END IF;
    IF j.store_id IS NOT NULL THEN
        -- One job per store at a time: serialize claimers of the same store, then look for a running one.
        PERFORM pg_advisory_xact_lock(hashtextextended(j.store_id::text, 0));
        -- Another job of the store is running, or an older one is still waiting: jobs of a store run one
        -- at a time, in the order they were enqueued.
        IF EXISTS (SELECT 1 FROM jobs o
                   WHERE o.store_id = j.store_id AND o.id <> j.id
                     AND (o.status = 'running' OR (o.status IN ('queued', 'retrying') AND o.created_at < j.created_at))) THEN
            outcome := 'busy'; RETURN NEXT; RETURN;
        END IF;
    END IF;

    UPDATE jobs SET status = 'running', worker_id = p_worker,
                    lease_expires_at = now() + make_interval(secs => p_lease_seconds),
                    started_at = coalesce(jobs.started_at, now()), updated_at = now()
     WHERE id = p_job;
    INSERT INTO job_transitions (job_id, attempt, status, worker_id)
    VALUES (p_job, (SELECT count(*) FROM job_transitions t WHERE t.job_id = p_job AND t.step IS NULL AND t.status = 'running') + 1,
            'running', p_worker);

    IF j.current_step < array_length(j.steps, 1) THEN
        UPDATE job_steps SET status = 'running', attempts = attempts + 1, started_at = clock_timestamp(),
                             finished_at = NULL, message = NULL
         WHERE job_id = p_job AND position = j.current_step
        RETURNING name, attempts INTO step_name, step_attempt;
        INSERT INTO job_transitions (job_id, step, position, attempt, status, worker_id)
        VALUES (p_job, step_name, j.current_step, step_attempt, 'running', p_worker);
    END IF;

    outcome := 'claimed';
    kind := j.kind;
    store_id := j.store_id;
    tenant_id := j.tenant_id;
    steps := j.steps;
    current_step := j.current_step;
    payload := j.payload;
    cancel_requested := j.cancel_requested;
    RETURN NEXT;
END;
$$;

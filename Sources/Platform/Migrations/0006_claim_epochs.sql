-- Fencing tokens. Every claim of a job takes the next `epoch`; every write the engine makes for that
-- claim (renewal, progress, step outcome, hand-back, finish, and the steps' own writes through the
-- engine) is conditional on the job still being `running` at that epoch. A worker ID is not enough: one
-- process can hold a stale claim in one slot and a fresh one in another.
ALTER TABLE jobs RENAME COLUMN attempt TO epoch;

-- The claim epoch under which a transition was written (NULL for producers' transitions: queued,
-- cancelled while waiting, re-queued by a retry request), and the writing transaction's ID. Transition
-- IDs are taken before commit, so they are not commit order; `xid` with the snapshot's xmin tells which
-- rows are settled, which is how event streams read the history without skipping a late commit.
ALTER TABLE job_transitions ADD COLUMN epoch integer;
-- Kept as bigint (an xid8 fits: its epoch would need billions of wraparounds to reach the sign bit) for
-- a BRIN index: transaction IDs grow with the table's physical order, so a few hundred bytes of block
-- ranges find the recent rows a stream reads, at almost no cost per insert on the engine's hottest
-- table (a B-tree on it cost the job benchmark about a tenth of its throughput).
ALTER TABLE job_transitions ADD COLUMN xid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX job_transitions_xid ON job_transitions USING brin (xid) WITH (autosummarize = on);

-- A function is replaced whole, so most of 0002's body stands again here with the epoch added:
-- migrations are history, and the one that ran must stay as it ran.
DROP FUNCTION job_claim(uuid, text, double precision);
CREATE FUNCTION job_claim(p_job uuid, p_worker text, p_lease_seconds double precision)
RETURNS TABLE (outcome text, kind text, store_id uuid, tenant_id uuid, steps text[], current_step integer,
               payload jsonb, step_attempt integer, cancel_requested boolean, epoch integer)
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

    UPDATE jobs SET status = 'running', worker_id = p_worker, epoch = jobs.epoch + 1,
                    lease_expires_at = now() + make_interval(secs => p_lease_seconds),
                    started_at = coalesce(jobs.started_at, now()), updated_at = now()
     WHERE id = p_job
    RETURNING jobs.epoch INTO epoch;
    INSERT INTO job_transitions (job_id, attempt, status, worker_id, epoch)
    VALUES (p_job, (SELECT count(*) FROM job_transitions t WHERE t.job_id = p_job AND t.step IS NULL AND t.status = 'running') + 1,
            'running', p_worker, epoch);

    IF j.current_step < array_length(j.steps, 1) THEN
        UPDATE job_steps SET status = 'running', attempts = attempts + 1, started_at = clock_timestamp(),
                             finished_at = NULL, message = NULL
         WHERE job_id = p_job AND position = j.current_step
        RETURNING name, attempts INTO step_name, step_attempt;
        INSERT INTO job_transitions (job_id, step, position, attempt, status, worker_id, epoch)
        VALUES (p_job, step_name, j.current_step, step_attempt, 'running', p_worker, epoch);
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

-- The job engine's tables and functions: what `Jobs` needs in a database of its own, with nothing of
-- the platform's. A job's `store_id` and `tenant_id` are opaque to the engine: jobs sharing a
-- `store_id` run one at a time, in the order they were enqueued; `tenant_id` groups the job counters.
-- (A database made before the engine had a chain of its own got these objects, in this final shape,
-- from the platform's migrations 0001, 0002, 0006, 0008, 0009 and 0012; Platform's Schema adopts it.)

-- A job is an ordered list of named steps run by workers. `status` and the lease columns are what the
-- engine claims and renews; `run_at` is when a queued or retrying job may next run. `epoch` is the
-- claim's fencing token: every claim takes the next one, and every write the engine makes for a claim
-- is conditional on the job still being `running` at that epoch.
CREATE TABLE jobs (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL,
    store_id         uuid,
    tenant_id        uuid,
    status           text NOT NULL CHECK (status IN ('queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
    steps            text[] NOT NULL,
    current_step     integer NOT NULL DEFAULT 0,
    epoch            integer NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL DEFAULT now(),
    worker_id        text,
    lease_expires_at timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    error            text,
    payload          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- The sweeper's scan: jobs waiting to run, by due time.
CREATE INDEX jobs_pending ON jobs (run_at) WHERE status IN ('queued', 'retrying');
-- The reaper's scan: running jobs by lease deadline.
CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE status = 'running';
-- A store's jobs, newest first ("one job per store at a time", retention's "newest job of a store").
CREATE INDEX jobs_store_created ON jobs (store_id, created_at DESC);
-- Jobs finished per minute and retention's scan.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- The current state of each step of each job (one row per step).
CREATE TABLE job_steps (
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    name        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'retrying', 'cancelled')),
    attempts    integer NOT NULL DEFAULT 0,
    started_at  timestamptz,
    finished_at timestamptz,
    message     text,
    PRIMARY KEY (job_id, position)
);

-- Append-only history: one row per transition of a job or of one attempt of a step, so every failed
-- attempt stays visible, not only the last. `epoch` is the claim a transition was written under (NULL
-- for producers' transitions: queued, cancelled while waiting, re-queued by a retry request); `xid` the
-- writing transaction's ID. Transition IDs are taken before commit, so they are not commit order; `xid`
-- with the snapshot's xmin tells which rows are settled, which is how event streams read the history
-- without skipping a late commit.
CREATE TABLE job_transitions (
    id          bigserial PRIMARY KEY,
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step        text,
    position    integer,
    attempt     integer NOT NULL,
    status      text NOT NULL,
    worker_id   text,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms double precision,
    message     text,
    epoch       integer,
    -- Kept as bigint (an xid8 fits: its epoch would need billions of wraparounds to reach the sign bit)
    -- for a BRIN index: transaction IDs grow with the table's physical order, so a few hundred bytes of
    -- block ranges find the recent rows a stream reads, at almost no cost per insert on the engine's
    -- hottest table (a B-tree on it cost the job benchmark about a tenth of its throughput).
    xid         bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)
);
CREATE INDEX job_transitions_job ON job_transitions (job_id, id);
CREATE INDEX job_transitions_xid ON job_transitions USING brin (xid) WITH (autosummarize = on);

-- The job engine's claim, as one server-side function so that taking a job is a single round trip:
-- lock the row, refuse jobs that are not due or must wait for another job of their store, then mark
-- the job running under a lease and start its current step, recording both transitions.
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

-- The lowest transaction ID that may still gain rows in this database, as of the calling statement's
-- snapshot (STABLE: the caller's snapshot, so the rows a stream reads and the horizon it moves to agree):
-- the oldest in-progress transaction, leaving out those positively known to belong to other databases
-- (they cannot write these tables, and a shared cluster's long transactions elsewhere must not hold
-- streams back), or the snapshot's xmax when none is left. A transaction whose database cannot be told
-- (pg_stat_activity hides other roles' sessions from a role without pg_read_all_stats) counts as ours:
-- a stream is then delayed, never made to skip.
-- A prepared transaction has no pg_stat_activity row: pg_prepared_xacts names its database instead.
-- Returned as bigint, as job_transitions.xid is kept.
CREATE FUNCTION job_event_horizon() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
         WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                           WHERE a.datname IS DISTINCT FROM current_database() AND a.backend_xid = xid(x))
           AND NOT EXISTS (SELECT 1 FROM pg_prepared_xacts p
                           WHERE p.database IS DISTINCT FROM current_database() AND p.transaction = xid(x))),
        pg_snapshot_xmax(pg_current_snapshot()))::text::bigint
$$;

-- Job counts by tenant and status without counting the table. Waiting and running jobs are few and
-- sit in partial indexes (jobs_pending, jobs_leased): they are counted directly. Finished jobs are the
-- many: a row trigger that fires only when a job enters or leaves a finished status (a WHEN clause,
-- evaluated without calling the function for every other update: lease renewals, step successes)
-- appends a delta, and pruning's deletes append theirs per statement. The maintenance leader folds the
-- deltas into job_counts (JobStore.foldJobCounts); readers add the counters and the unfolded deltas.
-- Appending never updates a shared row, so concurrent writers do not queue on a hot counter. Jobs
-- without a tenant (synthetic jobs, a reuser's jobs) count under the nil UUID.
CREATE TABLE job_counts (
    tenant_id uuid NOT NULL,
    status    text NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (tenant_id, status)
);
CREATE TABLE job_count_deltas (
    id        bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    status    text NOT NULL,
    delta     bigint NOT NULL
);

CREATE FUNCTION job_counts_on_finish() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('succeeded', 'failed', 'cancelled') THEN
        INSERT INTO job_count_deltas (tenant_id, status, delta)
        VALUES (coalesce(OLD.tenant_id, '00000000-0000-0000-0000-000000000000'), OLD.status, -1);
    END IF;
    IF NEW.status IN ('succeeded', 'failed', 'cancelled') THEN
        INSERT INTO job_count_deltas (tenant_id, status, delta)
        VALUES (coalesce(NEW.tenant_id, '00000000-0000-0000-0000-000000000000'), NEW.status, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION job_counts_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_deltas (tenant_id, status, delta)
    SELECT coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'), status, -count(*) FROM old_rows
    WHERE status IN ('succeeded', 'failed', 'cancelled') GROUP BY 1, 2;
    RETURN NULL;
END $$;

-- TRUNCATE fires no row or DELETE trigger: without this, counters would go on counting jobs that are gone.
CREATE FUNCTION job_counts_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_count_deltas;
    DELETE FROM job_counts;
    RETURN NULL;
END $$;

CREATE TRIGGER job_counts_finish AFTER UPDATE OF status ON jobs FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          AND (OLD.status IN ('succeeded', 'failed', 'cancelled') OR NEW.status IN ('succeeded', 'failed', 'cancelled')))
    EXECUTE FUNCTION job_counts_on_finish();
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_on_delete();
CREATE TRIGGER job_counts_truncate AFTER TRUNCATE ON jobs FOR EACH STATEMENT EXECUTE FUNCTION job_counts_on_truncate();

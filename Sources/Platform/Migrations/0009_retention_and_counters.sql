-- Job counts by tenant and status without counting the table. Waiting and running jobs are few and
-- sit in partial indexes (jobs_pending, jobs_leased): they are counted directly. Finished jobs are the
-- many: a row trigger that fires only when a job enters or leaves a finished status (a WHEN clause,
-- evaluated without calling the function for every other update: lease renewals, step successes)
-- appends a delta, and pruning's deletes append theirs per statement. The maintenance leader folds the
-- deltas into job_counts (JobStore.foldJobCounts); readers add the counters and the unfolded deltas.
-- Appending never updates a shared row, so concurrent writers do not queue on a hot counter. Jobs
-- without a tenant (the engine's lab jobs) count under the nil UUID.
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

-- The finished jobs already there, counted once (the triggers exist from here on, in this transaction).
INSERT INTO job_counts (tenant_id, status, n)
SELECT coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'), status, count(*) FROM jobs
WHERE status IN ('succeeded', 'failed', 'cancelled') GROUP BY 1, 2;

-- What retention prunes by age (JobStore.prune): audit events, revoked tokens, deleted stores.
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX api_tokens_revoked ON api_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX stores_deleted ON stores (updated_at) WHERE status = 'deleted';

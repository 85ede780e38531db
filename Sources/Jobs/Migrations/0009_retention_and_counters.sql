-- Job counts by tenant and status without counting the table: /metrics and /api/stats read
-- job_counts plus the deltas not yet folded into it. Statement-level triggers append one delta row per
-- (tenant, status) a statement changed, never updating a shared row, so concurrent writers do not queue
-- on a hot counter; the maintenance leader folds the deltas into job_counts (JobStore.foldJobCounts).
-- Jobs without a tenant (the engine's lab jobs) count under the nil UUID.
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

CREATE FUNCTION job_counts_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_deltas (tenant_id, status, delta)
    SELECT coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'), status, count(*) FROM new_rows GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE FUNCTION job_counts_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Most updates (lease renewals, progress) change no status: they add nothing.
    INSERT INTO job_count_deltas (tenant_id, status, delta)
    SELECT tenant, status, sum(d) FROM (
        SELECT coalesce(tenant_id, '00000000-0000-0000-0000-000000000000') AS tenant, status, -1 AS d FROM old_rows
        UNION ALL
        SELECT coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'), status, 1 FROM new_rows
    ) changes GROUP BY 1, 2 HAVING sum(d) <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION job_counts_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_deltas (tenant_id, status, delta)
    SELECT coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'), status, -count(*) FROM old_rows GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_on_insert();
CREATE TRIGGER job_counts_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_on_update();
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_on_delete();

-- TRUNCATE fires no row or DELETE trigger: without this, counters would go on counting jobs that are gone.
CREATE FUNCTION job_counts_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_count_deltas;
    DELETE FROM job_counts;
    RETURN NULL;
END $$;
CREATE TRIGGER job_counts_truncate AFTER TRUNCATE ON jobs FOR EACH STATEMENT EXECUTE FUNCTION job_counts_on_truncate();

-- The jobs already there, counted once (the triggers exist from here on, in this same transaction).
INSERT INTO job_counts (tenant_id, status, n)
SELECT coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'), status, count(*) FROM jobs GROUP BY 1, 2;

-- What retention prunes by age (JobStore.prune): audit events, revoked tokens, deleted stores.
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX api_tokens_revoked ON api_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX stores_deleted ON stores (updated_at) WHERE status = 'deleted';

-- The job counters (job_counts, job_count_deltas and their triggers) that were created here are part of
-- the job engine's own schema now (Sources/Jobs/Migrations/0001_engine.sql).
DO $$
BEGIN
    IF to_regclass('job_counts') IS NULL OR to_regclass('job_count_deltas') IS NULL THEN
        RAISE EXCEPTION 'job_counts is missing although job_engine_migrations says the engine schema is applied; if this database was restored from a dump made before 2026-12-05, DROP TABLE job_engine_migrations and start again';
    END IF;
END $$;

-- What retention prunes by age (PlatformRetention's rules): audit events, revoked tokens, deleted stores.
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX api_tokens_revoked ON api_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX stores_deleted ON stores (updated_at) WHERE status = 'deleted';

-- The job counters (job_counts, job_count_deltas and their triggers) that were created here are part of
-- the job engine's own schema now (Sources/Jobs/Migrations/0001_engine.sql).

-- What retention prunes by age (JobStore.prune): audit events, revoked tokens, deleted stores.
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX api_tokens_revoked ON api_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX stores_deleted ON stores (updated_at) WHERE status = 'deleted';

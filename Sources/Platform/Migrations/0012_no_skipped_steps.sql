-- No code ever marks a step `skipped`: the engine runs every step of a job in order, and a store's
-- pipeline has no optional steps. The status went from the code and the API document; the constraint
-- follows, so that the database admits only what the engine can write. Safe during a rollout: the
-- build before this one never wrote it either. NOT VALID then VALIDATE keeps the check of existing
-- rows from blocking writes to the table while it runs.
ALTER TABLE job_steps DROP CONSTRAINT job_steps_status_check;
ALTER TABLE job_steps ADD CONSTRAINT job_steps_status_check
    CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'retrying', 'cancelled')) NOT VALID;
ALTER TABLE job_steps VALIDATE CONSTRAINT job_steps_status_check;

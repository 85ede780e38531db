-- Moved: the step status constraint without `skipped` is part of the job engine's own schema now (Sources/Jobs/Migrations/0001_engine.sql,
-- in its final shape). The number stays so that every database agrees on what this version means: a
-- database that ran this file before the move has the same objects as one the engine's schema made.
-- It still checks that they are there: a dump from before the split restored over a newer database
-- keeps the newer one's job_engine_migrations row, and this must not then pass for done.
DO $$
BEGIN
    IF NOT (EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'job_steps_status_check' AND pg_get_constraintdef(oid) NOT LIKE '%skipped%')) THEN
        RAISE EXCEPTION 'job_steps_status_check without skipped is missing although job_engine_migrations says the engine schema is applied; if this database was restored from a dump made before 2026-12-05, DROP TABLE job_engine_migrations and start again';
    END IF;
END $$;

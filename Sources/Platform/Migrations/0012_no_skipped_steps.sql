-- Moved: the step status constraint without `skipped` is part of the job engine's own schema now (Sources/Jobs/Migrations/0001_engine.sql,
-- in its final shape). The number stays so that every database agrees on what this version means: a
-- database that ran this file before the move has the same objects as one the engine's schema made.
SELECT 1;

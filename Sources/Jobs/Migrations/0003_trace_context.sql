-- The W3C `traceparent` of the request (or job) that enqueued a job, when tracing is on: the worker
-- that runs the job, and every worker that runs it again after a crash or a retry, continues that trace
-- (docs/operations.md, "Tracing"). NULL when tracing is off. Nullable, no default: adding it rewrites
-- nothing, and workers of the previous version, which name their columns, are unaffected.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS traceparent text;

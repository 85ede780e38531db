-- Why a step attempt failed, in a word from a small fixed set (FailureClassifier.cause: postgres, redis,
-- timeout, helm, kubernetes-<reason>, step, cancelled, other), on the transitions that record failed
-- attempts: `/api/stats/series` counts failures by cause from it. NULL on successes, on rows written
-- before this column existed, and on rows of workers older than it (a rolling upgrade): those count as
-- "other". Adding a nullable column without a default rewrites nothing and takes a moment's lock.
ALTER TABLE job_transitions ADD COLUMN IF NOT EXISTS cause text;

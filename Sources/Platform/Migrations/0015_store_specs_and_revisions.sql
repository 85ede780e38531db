-- Idempotent: a rerun (a record lost, a restore) finds its objects in place and changes nothing.
-- Day two: a store has a spec (plan, chart version, application version) and every change to it is a
-- revision. `stores` holds the spec that is live; `store_revisions` holds each one asked for, who asked,
-- the job that applied it and how that ended.

-- Every store made before plans had the guardrails of the built-in `small` plan. The default also
-- serves a gateway of the previous version still inserting during a rolling upgrade.
ALTER TABLE stores
    ADD COLUMN IF NOT EXISTS plan          text NOT NULL DEFAULT 'small',
    ADD COLUMN IF NOT EXISTS chart_version text,
    ADD COLUMN IF NOT EXISTS app_version   text,
    -- The revision that is live: the last one applied (or, while a create runs, the first).
    ADD COLUMN IF NOT EXISTS revision      integer NOT NULL DEFAULT 1 CHECK (revision >= 1);

-- `updating`: an update job runs; the store keeps serving its live revision meanwhile.
ALTER TABLE stores DROP CONSTRAINT IF EXISTS stores_status_check;
ALTER TABLE stores ADD CONSTRAINT stores_status_check
    CHECK (status IN ('provisioning', 'ready', 'updating', 'failed', 'deleting', 'deleted'));

-- NULL: every plan the platform offers; otherwise the plans this tenant may put stores on.
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS allowed_plans text[];

CREATE TABLE IF NOT EXISTS store_revisions (
    store_id      uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    revision      integer NOT NULL CHECK (revision >= 1),
    plan          text NOT NULL,
    chart_version text,
    app_version   text,
    -- The live spec this revision replaces (NULL for a store's first): {plan, chartVersion, appVersion}.
    previous      jsonb,
    job_id        uuid,
    -- Who asked: the tenant and token of the request (the token may since have been revoked).
    tenant_id     uuid,
    token_id      uuid,
    -- pending: its job runs; applied: live; rolled-back: it failed for good and the store serves the
    -- previous revision again; failed: its job failed and no rollback stands (the store is failed);
    -- cancelled: superseded (a delete) before it was applied.
    outcome       text NOT NULL CHECK (outcome IN ('pending', 'applied', 'rolled-back', 'failed', 'cancelled')),
    -- Set, once and for good, when the update failed for good and its job turned to the rollback: why.
    rollback_reason text,
    -- The helm release revision that was deployed when the update began: what a rollback restores.
    helm_previous integer,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    PRIMARY KEY (store_id, revision)
);

-- A store's history so far: its first revision, as the store was made.
INSERT INTO store_revisions (store_id, revision, plan, job_id, tenant_id, outcome, created_at, finished_at)
SELECT s.id, 1, s.plan,
       (SELECT j.id FROM jobs j WHERE j.store_id = s.id AND j.kind = 'store.create' ORDER BY j.created_at LIMIT 1),
       s.tenant_id,
       CASE s.status WHEN 'provisioning' THEN 'pending' WHEN 'failed' THEN 'failed' ELSE 'applied' END,
       s.created_at,
       CASE WHEN s.status = 'provisioning' THEN NULL ELSE s.updated_at END
FROM stores s
ON CONFLICT DO NOTHING;

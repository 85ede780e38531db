-- The platform's first schema. Postgres is the source of truth for tenants, stores and jobs; Redis only
-- carries job IDs to workers and can be rebuilt from these tables at any time.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    role        text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    store_limit integer NOT NULL DEFAULT 5 CHECK (store_limit >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Tokens are shown once and stored only as a SHA-256 digest; `prefix` (the first characters) lets a
-- person tell their tokens apart in listings without revealing them.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    prefix       text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);

CREATE TABLE stores (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    name           text NOT NULL,
    engine         text NOT NULL CHECK (engine IN ('woocommerce', 'medusa')),
    status         text NOT NULL CHECK (status IN ('provisioning', 'ready', 'failed', 'deleting', 'deleted')),
    namespace      text NOT NULL,
    storefront_url text,
    admin_url      text,
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);
-- A name (and so a namespace) belongs to one live store at a time; a deleted store frees it.
CREATE UNIQUE INDEX stores_live_name ON stores (name) WHERE status <> 'deleted';
-- The store list: a tenant's stores, newest first, paginated by (created_at, id).
CREATE INDEX stores_tenant_created ON stores (tenant_id, created_at DESC, id DESC);
-- Counting a tenant's live stores against its limit.
CREATE INDEX stores_tenant_live ON stores (tenant_id) WHERE status <> 'deleted';

-- A job is an ordered list of named steps run by workers. `status` and the lease columns are what the
-- engine claims and renews; `run_at` is when a queued or retrying job may next run.
CREATE TABLE jobs (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL,
    store_id         uuid REFERENCES stores (id),
    tenant_id        uuid REFERENCES tenants (id),
    status           text NOT NULL CHECK (status IN ('queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
    steps            text[] NOT NULL,
    current_step     integer NOT NULL DEFAULT 0,
    attempt          integer NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL DEFAULT now(),
    worker_id        text,
    lease_expires_at timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    error            text,
    payload          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- The sweeper's scan: jobs waiting to run, by due time.
CREATE INDEX jobs_pending ON jobs (run_at) WHERE status IN ('queued', 'retrying');
-- The reaper's scan: running jobs by lease deadline.
CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE status = 'running';
-- A store's jobs, newest first (store detail, "one job per store at a time").
CREATE INDEX jobs_store_created ON jobs (store_id, created_at DESC);
-- Jobs finished per minute and jobs by status, for /api/stats and /metrics.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- The current state of each step of each job (one row per step).
CREATE TABLE job_steps (
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    name        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'retrying', 'cancelled', 'skipped')),
    attempts    integer NOT NULL DEFAULT 0,
    started_at  timestamptz,
    finished_at timestamptz,
    message     text,
    PRIMARY KEY (job_id, position)
);

-- Append-only history: one row per transition of a job or of one attempt of a step, so every failed
-- attempt stays visible, not only the last.
CREATE TABLE job_transitions (
    id          bigserial PRIMARY KEY,
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step        text,
    position    integer,
    attempt     integer NOT NULL,
    status      text NOT NULL,
    worker_id   text,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms double precision,
    message     text
);
CREATE INDEX job_transitions_job ON job_transitions (job_id, id);

-- Who did what and when, tenant-scoped.
CREATE TABLE audit_events (
    id          bigserial PRIMARY KEY,
    tenant_id   uuid REFERENCES tenants (id),
    token_id    uuid,
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text,
    client_ip   text,
    request_id  text,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id DESC);

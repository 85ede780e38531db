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

-- The job engine's tables (jobs, job_steps, job_transitions) were created here until the engine got a
-- schema of its own (Sources/Jobs/Migrations); 0014 adds the platform's foreign keys to them.

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

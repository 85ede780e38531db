-- The gateway's idempotency keys (IETF httpapi Idempotency-Key draft). The primary key makes the first
-- request with a key win: concurrent repeats find the row and answer 409 while it is in flight, or the
-- stored response once it is complete, so 1,000 identical requests produce one store and one job.
CREATE TABLE idempotency_keys (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key             text NOT NULL,
    -- SHA-256 of method, path and body: the same key with another request is refused (422).
    request_hash    bytea NOT NULL,
    status          text NOT NULL CHECK (status IN ('in_flight', 'complete')),
    response_status integer,
    response_body   text,
    response_location text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- An in-flight row older than this (its gateway died mid-request) may be taken over.
    locked_until    timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- Idempotent: a rerun (a record lost, a restore) finds its objects in place and changes nothing.
-- Fleet rollouts: one new chart and/or application version across the stores a selector picks, in
-- waves (a canary first), each store's change an ordinary update job with its own rollback. The
-- rollout's own job reads and writes only these rows, so a crash anywhere loses nothing.
CREATE TABLE IF NOT EXISTS rollouts (
    id          uuid PRIMARY KEY,
    -- running: its job works through the waves; halted: a wave failed past its threshold (resume or
    -- cancel it); completed; cancelled.
    status      text NOT NULL CHECK (status IN ('running', 'halted', 'completed', 'cancelled')),
    -- {chartVersion?, appVersion?}
    target      jsonb NOT NULL,
    -- {engine?, tenantId?, plan?, storeIds?}, as asked.
    selector    jsonb NOT NULL,
    -- {canary, waveSize, wavePercent, maxParallel, failureThreshold}
    strategy    jsonb NOT NULL,
    job_id      uuid NOT NULL,
    tenant_id   uuid,
    token_id    uuid,
    reason      text,
    -- Waves up to this one may hold more failures than the threshold: an operator resumed past them.
    accepted_through integer NOT NULL DEFAULT -1,
    -- An operator asked the rollout to stop starting stores; its job halts at its next pass.
    halt_requested boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS rollouts_created ON rollouts (created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS rollout_stores (
    rollout_id uuid NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    store_id   uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    -- 0 is the canary.
    wave       integer NOT NULL CHECK (wave >= 0),
    position   integer NOT NULL,
    -- pending; updating (its update job runs); updated; unchanged (it ran the target already);
    -- rolled-back (its update did not stand; it runs its previous revision); failed (neither stands);
    -- skipped (not ready at its turn, or the rollout was cancelled before it).
    status     text NOT NULL CHECK (status IN ('pending', 'updating', 'updated', 'unchanged', 'rolled-back', 'failed', 'skipped')),
    job_id     uuid,
    revision   integer,
    message    text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rollout_id, store_id)
);
CREATE INDEX IF NOT EXISTS rollout_stores_order ON rollout_stores (rollout_id, wave, position);

-- Idempotent: a rerun (a record lost, a restore) finds its objects in place and changes nothing.
-- Suspend and resume: a suspended store runs nothing (its workloads at zero, its data kept) until it
-- is resumed. Who suspended it decides who may resume it: a store an administrator suspended (the
-- abuse case) cannot be resumed by its tenant.
ALTER TABLE stores DROP CONSTRAINT IF EXISTS stores_status_check;
ALTER TABLE stores ADD CONSTRAINT stores_status_check
    CHECK (status IN ('provisioning', 'ready', 'updating', 'suspending', 'suspended', 'resuming', 'failed', 'deleting', 'deleted'));

ALTER TABLE stores
    ADD COLUMN IF NOT EXISTS suspended_by      text CHECK (suspended_by IN ('tenant', 'admin')),
    ADD COLUMN IF NOT EXISTS suspended_at      timestamptz,
    ADD COLUMN IF NOT EXISTS suspension_reason text;

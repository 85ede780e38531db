-- Which request holds an in-flight idempotency key: a fresh token per request. Sealing the key (in the
-- transaction of the change it protects), abandoning it, and nothing else, are conditional on it, so a
-- request whose key was taken over after the lock ran out can neither commit its change nor drop the
-- new holder's key. Rows written before this migration have no owner and are complete or expire.
ALTER TABLE idempotency_keys ADD COLUMN owner uuid;

-- The transaction that last changed a store, so that event streams read store changes as they read job
-- transitions: in (xid, id) order, below job_event_horizon(). Reading by updated_at (a transaction's
-- start time) skipped a change that committed more than the look-back after it began, and stalled for
-- good once more stores changed within the look-back than one read returns.
ALTER TABLE stores ADD COLUMN change_xid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);

CREATE FUNCTION stores_change_xid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_xid := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END $$;
CREATE TRIGGER stores_change_xid BEFORE UPDATE ON stores FOR EACH ROW EXECUTE FUNCTION stores_change_xid();

CREATE INDEX stores_change ON stores (change_xid, id);

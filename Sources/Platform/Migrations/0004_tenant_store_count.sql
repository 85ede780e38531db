-- The store limit's check, as one round trip taken at the end of a create: lock the tenant's row, then
-- count its live stores. Inside a volatile function each statement takes a fresh snapshot, so the count,
-- taken once the lock is granted, sees every store committed by the creates that held the lock before;
-- taking the lock last keeps a tenant's creates serialized only for this call and the commit.
-- NO KEY UPDATE, not UPDATE: the create's own inserts hold KEY SHARE locks on the tenant (foreign keys),
-- which UPDATE would wait on across concurrent creates, deadlocking them; NO KEY UPDATE waits only on
-- another create's NO KEY UPDATE.
CREATE FUNCTION tenant_live_stores_locked(p_tenant uuid)
RETURNS TABLE (store_limit integer, live bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    found_limit integer;
BEGIN
    SELECT t.store_limit INTO found_limit FROM tenants t WHERE t.id = p_tenant FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    store_limit := found_limit;
    SELECT count(*) INTO live FROM stores s WHERE s.tenant_id = p_tenant AND s.status <> 'deleted';
    RETURN NEXT;
END $$;

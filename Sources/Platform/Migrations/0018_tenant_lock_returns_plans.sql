-- The store limit's check (0004) also returns the tenant's allowed plans, read under the same lock: a
-- create then checks its plan without another round trip, and still against the plans as they stand
-- once the lock is granted (a join in the calling statement would read them from that statement's
-- snapshot, taken before a concurrent tenant change committed). The result gains a column, so the
-- function is replaced; a gateway of the previous version, which reads `store_limit` and `live` by name,
-- keeps working during a rolling upgrade.
DROP FUNCTION IF EXISTS tenant_live_stores_locked(uuid);
CREATE FUNCTION tenant_live_stores_locked(p_tenant uuid)
RETURNS TABLE (store_limit integer, live bigint, allowed_plans text[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    found_limit integer;
    found_plans text[];
BEGIN
    SELECT t.store_limit, t.allowed_plans INTO found_limit, found_plans FROM tenants t WHERE t.id = p_tenant FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    store_limit := found_limit;
    allowed_plans := found_plans;
    SELECT count(*) INTO live FROM stores s WHERE s.tenant_id = p_tenant AND s.status <> 'deleted';
    RETURN NEXT;
END $$;

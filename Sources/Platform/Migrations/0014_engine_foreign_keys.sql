-- A platform job belongs to a store and a tenant of the platform's: the engine's own schema keeps those
-- columns opaque, so the platform adds the references here. Databases made before the engine had a
-- schema of its own already have them (with these names, from 0001): added only where missing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'jobs_store_id_fkey' AND conrelid = 'jobs'::regclass) THEN
        ALTER TABLE jobs ADD CONSTRAINT jobs_store_id_fkey FOREIGN KEY (store_id) REFERENCES stores (id);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'jobs_tenant_id_fkey' AND conrelid = 'jobs'::regclass) THEN
        ALTER TABLE jobs ADD CONSTRAINT jobs_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id);
    END IF;
END $$;

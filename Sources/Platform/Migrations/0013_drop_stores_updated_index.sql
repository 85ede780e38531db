-- 0005 indexed stores by updated_at for event streams, which read store changes by change_xid since
-- 0010; retention's one filter on updated_at is served by the partial index stores_deleted. The index
-- only cost every store write.
DROP INDEX IF EXISTS stores_updated;

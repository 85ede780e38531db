-- The lowest transaction ID that may still gain rows in this database, as of the calling statement's
-- snapshot (STABLE: the caller's snapshot, so the rows a stream reads and the horizon it moves to agree):
-- the oldest in-progress transaction, leaving out those positively known to belong to other databases
-- (they cannot write these tables, and a shared cluster's long transactions elsewhere must not hold
-- streams back), or the snapshot's xmax when none is left. A transaction whose database cannot be told
-- (pg_stat_activity hides other roles' sessions from a role without pg_read_all_stats) counts as ours:
-- a stream is then delayed, never made to skip.
-- A prepared transaction has no pg_stat_activity row: pg_prepared_xacts names its database instead.
-- Returned as bigint, as job_transitions.xid is kept.
CREATE FUNCTION job_event_horizon() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
         WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                           WHERE a.datname IS DISTINCT FROM current_database() AND a.backend_xid = xid(x))
           AND NOT EXISTS (SELECT 1 FROM pg_prepared_xacts p
                           WHERE p.database IS DISTINCT FROM current_database() AND p.transaction = xid(x))),
        pg_snapshot_xmax(pg_current_snapshot()))::text::bigint
$$;

-- Liveness decisions use one clock, the database's: hosts' wall clocks disagree (a host 30 s
-- fast saw every live lease as expired and took work from live hosts). Lease timestamps
-- (executors.heartbeat_at, leader.renewed_at) are written and compared with db_now_ms() only.
CREATE FUNCTION db_now_ms() RETURNS BIGINT
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
$$;

-- A pid is the same process when its start time in clock ticks since boot (/proc/<pid>/stat
-- field 22) and the host's boot id match what it registered: no wall clock involved.
ALTER TABLE executors ADD COLUMN proc_start_ticks BIGINT, ADD COLUMN boot_id TEXT;

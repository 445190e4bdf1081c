-- Executor instances (the lease table). Every lease timestamp is the database's clock
-- (db_now_ms()), never a host's: hosts' clocks disagree.

-- name: executor_register
INSERT INTO executors (instance_id, executor_id, host, pid, role, started_at, heartbeat_at,
                       proc_start_ticks, boot_id)
VALUES (%(instance_id)s, %(executor_id)s, %(host)s, %(pid)s, %(role)s, db_now_ms(), db_now_ms(),
        %(proc_start_ticks)s, %(boot_id)s)
ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = NULL
RETURNING heartbeat_at AS db_now_ms;

-- name: executor_heartbeat
-- Renew the lease; returns the database's time (the caller estimates its clock's offset).
UPDATE executors SET heartbeat_at = db_now_ms() WHERE instance_id = %(instance_id)s
RETURNING heartbeat_at AS db_now_ms;

-- name: executor_stopped
UPDATE executors SET stopped_at = db_now_ms(), heartbeat_at = db_now_ms()
WHERE instance_id = %(instance_id)s;

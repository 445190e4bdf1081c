-- name: executor_register
INSERT INTO executors (instance_id, executor_id, host, pid, role, started_at, heartbeat_at)
VALUES (%(instance_id)s, %(executor_id)s, %(host)s, %(pid)s, %(role)s, %(now_ms)s, %(now_ms)s)
ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = NULL;

-- name: executor_heartbeat
UPDATE executors SET heartbeat_at = %(now_ms)s WHERE instance_id = %(instance_id)s;

-- name: executor_stopped
UPDATE executors SET stopped_at = %(now_ms)s, heartbeat_at = %(now_ms)s
WHERE instance_id = %(instance_id)s;

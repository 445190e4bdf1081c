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

-- name: executor_connection_limits
-- What caps this role's connections here: the server (less the superuser reserve), the
-- database's and the role's CONNECTION LIMIT (-1: none; superusers are exempt from both), and
-- how many are open now (all hosts).
SELECT current_setting('max_connections')::INT
           - current_setting('superuser_reserved_connections')::INT AS server_limit,
       (SELECT datconnlimit FROM pg_database WHERE datname = current_database()) AS database_limit,
       r.rolconnlimit AS role_limit, r.rolsuper AS superuser,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS server_open,
       (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) AS database_open
FROM pg_roles r WHERE r.rolname = current_user;

-- name: executor_autovacuum
-- Whether autovacuum will clean the queue tables: the server switch and each table's own
-- autovacuum_enabled (NULL: not set, so the server's applies).
SELECT current_setting('autovacuum')::BOOLEAN AS server_on,
       (SELECT option_value::BOOLEAN FROM pg_options_to_table(
            (SELECT reloptions FROM pg_class WHERE oid = 'workflow_status'::regclass))
        WHERE option_name = 'autovacuum_enabled') AS table_on;

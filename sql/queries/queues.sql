-- name: queue_upsert
-- Register a queue. With update_existing, an existing row takes the new settings; a row owned
-- by another application is never touched (returns its owner, the caller raises). Returns
-- whether this call inserted the row and the row's owner.
WITH existing AS (
    SELECT name, application_name FROM queues WHERE name = %(name)s FOR UPDATE
), ins AS (
    INSERT INTO queues (name, concurrency, worker_concurrency, rate_limit_max, rate_limit_period_sec,
                        priority_enabled, polling_interval_sec, partition_concurrency,
                        partition_worker_concurrency, partition_rate_limit_max,
                        partition_rate_limit_period_sec, application_name, database_backed,
                        created_at, updated_at)
    SELECT %(name)s, %(concurrency)s, %(worker_concurrency)s, %(rate_limit_max)s,
           %(rate_limit_period_sec)s, %(priority_enabled)s, %(polling_interval_sec)s,
           %(partition_concurrency)s, %(partition_worker_concurrency)s,
           %(partition_rate_limit_max)s, %(partition_rate_limit_period_sec)s,
           %(application_name)s, %(database_backed)s, %(now_ms)s, %(now_ms)s
    WHERE NOT EXISTS (SELECT 1 FROM existing)
    ON CONFLICT (name) DO NOTHING
    RETURNING name
), upd AS (
    UPDATE queues SET concurrency = %(concurrency)s, worker_concurrency = %(worker_concurrency)s,
        rate_limit_max = %(rate_limit_max)s, rate_limit_period_sec = %(rate_limit_period_sec)s,
        priority_enabled = %(priority_enabled)s, polling_interval_sec = %(polling_interval_sec)s,
        partition_concurrency = %(partition_concurrency)s,
        partition_worker_concurrency = %(partition_worker_concurrency)s,
        partition_rate_limit_max = %(partition_rate_limit_max)s,
        partition_rate_limit_period_sec = %(partition_rate_limit_period_sec)s,
        database_backed = queues.database_backed OR %(database_backed)s,
        application_name = COALESCE(queues.application_name, %(application_name)s),
        updated_at = %(now_ms)s
    WHERE name = %(name)s AND %(update_existing)s
      AND (application_name IS NULL OR application_name = %(application_name)s)
      AND EXISTS (SELECT 1 FROM existing)
    RETURNING name
), woke AS (
    SELECT pg_notify(%(channel)s, wake_key('Q:', %(name)s))
    WHERE EXISTS (SELECT 1 FROM ins) OR EXISTS (SELECT 1 FROM upd)
)
SELECT EXISTS (SELECT 1 FROM ins) AS inserted,
       COALESCE((SELECT application_name FROM existing), %(application_name)s) AS owner,
       (SELECT count(*) FROM woke) AS woke;

-- name: queue_get
SELECT name, concurrency, worker_concurrency, rate_limit_max, rate_limit_period_sec,
       priority_enabled, polling_interval_sec, partition_concurrency, partition_worker_concurrency,
       partition_rate_limit_max, partition_rate_limit_period_sec, application_name, database_backed
FROM queues WHERE name = %(name)s;

-- name: queue_list
-- The queues of these applications (NULL: owned by none), by name.
SELECT name, concurrency, worker_concurrency, rate_limit_max, rate_limit_period_sec,
       priority_enabled, polling_interval_sec, partition_concurrency, partition_worker_concurrency,
       partition_rate_limit_max, partition_rate_limit_period_sec, application_name, database_backed
FROM queues
WHERE application_name = ANY(%(application_names)s::TEXT[]) OR application_name IS NULL
ORDER BY name;

-- name: queue_update
-- Change a database-backed queue's limits (every process re-reads them on `Q:`).
WITH upd AS (
    UPDATE queues SET concurrency = %(concurrency)s, worker_concurrency = %(worker_concurrency)s,
        rate_limit_max = %(rate_limit_max)s, rate_limit_period_sec = %(rate_limit_period_sec)s,
        polling_interval_sec = %(polling_interval_sec)s,
        partition_concurrency = %(partition_concurrency)s,
        partition_worker_concurrency = %(partition_worker_concurrency)s,
        partition_rate_limit_max = %(partition_rate_limit_max)s,
        partition_rate_limit_period_sec = %(partition_rate_limit_period_sec)s,
        updated_at = %(now_ms)s
    WHERE name = %(name)s
    RETURNING name
)
SELECT pg_notify(%(channel)s, wake_key('Q:', name)) FROM upd;

-- name: queue_delete
WITH gone AS (DELETE FROM queues WHERE name = %(name)s RETURNING name)
SELECT pg_notify(%(channel)s, wake_key('Q:', name)) FROM gone;

-- name: queue_wake
SELECT pg_notify(%(channel)s, 'q:' || %(queue)s);

-- name: app_version_register
INSERT INTO application_versions (application_name, version, created_at)
VALUES (%(application_name)s, %(version)s, %(now_ms)s)
ON CONFLICT (application_name, version) DO NOTHING;

-- name: app_version_latest
SELECT version FROM application_versions WHERE application_name = %(application_name)s
ORDER BY created_at DESC, version DESC LIMIT 1;

-- name: queue_upsert
INSERT INTO queues (name, concurrency, worker_concurrency, rate_limit_max, rate_limit_period_sec,
                    priority_enabled, polling_interval_sec, updated_at)
VALUES (%(name)s, %(concurrency)s, %(worker_concurrency)s, %(rate_limit_max)s,
        %(rate_limit_period_sec)s, %(priority_enabled)s, %(polling_interval_sec)s, %(now_ms)s)
ON CONFLICT (name) DO UPDATE SET
    concurrency = EXCLUDED.concurrency, worker_concurrency = EXCLUDED.worker_concurrency,
    rate_limit_max = EXCLUDED.rate_limit_max, rate_limit_period_sec = EXCLUDED.rate_limit_period_sec,
    priority_enabled = EXCLUDED.priority_enabled,
    polling_interval_sec = EXCLUDED.polling_interval_sec, updated_at = EXCLUDED.updated_at;

-- name: queue_wake
SELECT pg_notify(%(channel)s, 'q:' || %(queue)s);

-- Read at scrape time (metrics) and by the dashboard: every statement here has a cost
-- bounded by a cap or by the number of queues, whatever the table's size.

-- name: observe_queue_depth
-- Queue depth by queue and status for the metrics scrape, each count capped at %(cap)s rows
-- (a capped value reads "at least"). ENQUEUED: one index-only probe per queue row through
-- workflow_status_runnable, plus the head row's created_at (the next to run: its age is the
-- queue's wait). PENDING and DELAYED: one capped walk of their partial indexes, grouped.
-- Measured on 1M rows (1M ENQUEUED on one queue, cap 10,000): see docs/observability.md.
SELECT q.name AS queue_name, 'ENQUEUED' AS status,
       (SELECT count(*) FROM (
            SELECT 1 FROM workflow_status w
            WHERE w.status = 'ENQUEUED' AND NOT w.parked AND w.queue_name = q.name
            LIMIT %(cap)s) AS c) AS depth,
       (SELECT w.created_at FROM workflow_status w
        WHERE w.status = 'ENQUEUED' AND NOT w.parked AND w.queue_name = q.name
        ORDER BY w.priority, w.created_at LIMIT 1) AS head_created_at
FROM queues q
WHERE q.application_name = ANY(%(application_names)s::TEXT[]) OR q.application_name IS NULL
UNION ALL
SELECT p.queue_name, p.status, count(*) AS depth, NULL AS head_created_at
FROM ((SELECT queue_name, status FROM workflow_status WHERE status = 'PENDING' LIMIT %(cap)s)
      UNION ALL
      (SELECT queue_name, status FROM workflow_status WHERE status = 'DELAYED' LIMIT %(cap)s)) AS p
WHERE p.queue_name IS NOT NULL
GROUP BY p.queue_name, p.status;

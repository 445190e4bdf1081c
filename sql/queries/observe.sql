-- Read at scrape time (metrics) and by the dashboard: every statement here has a cost
-- bounded by a cap or by the number of queues, whatever the table's size.

-- name: observe_queue_depth
-- Queue depth by queue and status for the metrics scrape, each count capped at %(cap)s rows
-- (a capped value reads "at least"). ENQUEUED: one index-only probe per queue row through
-- workflow_status_runnable, plus the head row's created_at (the next to run: its age is the
-- queue's wait). PENDING and DELAYED: one capped walk of their partial indexes, grouped. Each
-- capped walk is ordered as its index is, so the pool's generic plan (which does not know the
-- cap) still walks the index and stops, instead of scanning the table.
-- Measured on 1M rows (1M ENQUEUED on one queue, cap 10,000): see docs/observability.md.
SELECT q.name AS queue_name, 'ENQUEUED' AS status,
       (SELECT count(*) FROM (
            SELECT 1 FROM workflow_status w
            WHERE w.status = 'ENQUEUED' AND NOT w.parked AND w.queue_name = q.name
            ORDER BY w.priority, w.created_at
            LIMIT %(cap)s) AS c) AS depth,
       (SELECT w.created_at FROM workflow_status w
        WHERE w.status = 'ENQUEUED' AND NOT w.parked AND w.queue_name = q.name
        ORDER BY w.priority, w.created_at LIMIT 1) AS head_created_at
FROM queues q
WHERE q.application_name = ANY(%(application_names)s::TEXT[]) OR q.application_name IS NULL
UNION ALL
SELECT p.queue_name, p.status, count(*) AS depth, NULL AS head_created_at
FROM ((SELECT queue_name, status FROM workflow_status WHERE status = 'PENDING'
       ORDER BY executor_id, queue_name LIMIT %(cap)s)
      UNION ALL
      (SELECT queue_name, status FROM workflow_status WHERE status = 'DELAYED'
       ORDER BY delay_until_epoch_ms LIMIT %(cap)s)) AS p
WHERE p.queue_name IS NOT NULL
GROUP BY p.queue_name, p.status;

-- name: observe_queue_rate
-- Outcomes per queue since %(since_ms)s (the dashboard's rate: the last minute), through the
-- BRIN index on completed_at: reads the block ranges of that minute only.
SELECT queue_name, count(*) AS finished
FROM workflow_status
WHERE completed_at >= %(since_ms)s AND queue_name IS NOT NULL
GROUP BY queue_name;

-- name: observe_workflow_page
-- The dashboard's list: newest first, optional status/queue/name filters, keyset paging on
-- (created_at, workflow_uuid). Cost grows with the rows that match (no b-tree on created_at:
-- every index on workflow_status costs each claim and completion); retention bounds it.
SELECT workflow_uuid, status, name, queue_name, executor_id, recovery_attempts, created_at,
       started_at_epoch_ms, completed_at, parent_workflow_id
FROM workflow_status
WHERE (%(status)s::TEXT IS NULL OR status = %(status)s)
  AND (%(queue_name)s::TEXT IS NULL OR queue_name = %(queue_name)s)
  AND (%(name)s::TEXT IS NULL OR name = %(name)s)
  AND (%(before_ms)s::BIGINT IS NULL OR (created_at, workflow_uuid) < (%(before_ms)s, %(before_id)s))
ORDER BY created_at DESC, workflow_uuid DESC
LIMIT %(limit)s;

-- name: observe_messages
-- Messages sent to a workflow (consumed or not), oldest first, at most %(limit)s.
SELECT topic, message, created_at_epoch_ms, consumed
FROM notifications
WHERE destination_uuid = %(workflow_id)s
ORDER BY seq
LIMIT %(limit)s;

-- name: observe_executors
-- Live executor instances (app processes and workers), at most %(limit)s.
SELECT instance_id, executor_id, host, pid, role, started_at, heartbeat_at
FROM executors
WHERE stopped_at IS NULL
ORDER BY executor_id, started_at
LIMIT %(limit)s;

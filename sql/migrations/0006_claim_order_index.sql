-- The shared claim (`queue_name = ANY(...)`) cannot use (queue_name, priority, created_at) for
-- its ORDER BY across several queues, so Postgres sorted every runnable row on every claim
-- (about 3 ms at 8,000 queued, growing with the backlog). This index walks runnable rows in
-- claim order and stops at LIMIT (0.4-0.9 ms at the same backlog).
CREATE INDEX workflow_status_runnable_order
    ON workflow_status (priority, created_at) WHERE status = 'ENQUEUED';

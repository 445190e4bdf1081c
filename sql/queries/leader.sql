-- name: leader_try_lock
SELECT pg_try_advisory_lock(%(key)s) AS acquired;

-- name: leader_record
INSERT INTO leader (election_key, instance_id, executor_id, elected_at)
VALUES (%(key)s, %(instance_id)s, %(executor_id)s, %(now_ms)s)
ON CONFLICT (election_key) DO UPDATE SET instance_id = EXCLUDED.instance_id,
    executor_id = EXCLUDED.executor_id, elected_at = EXCLUDED.elected_at;

-- name: leader_current
SELECT instance_id, executor_id, elected_at FROM leader WHERE election_key = %(key)s;

-- name: maintenance_promote_delayed
-- DELAYED workflows that are due become ENQUEUED (bounded batch); wakes their queues.
WITH due AS (
    UPDATE workflow_status SET status = 'ENQUEUED', updated_at = %(now_ms)s
    WHERE workflow_uuid IN (
        SELECT workflow_uuid FROM workflow_status
        WHERE status = 'DELAYED' AND delay_until_epoch_ms <= %(now_ms)s
        ORDER BY delay_until_epoch_ms LIMIT %(n)s FOR UPDATE SKIP LOCKED)
    RETURNING queue_name
)
SELECT pg_notify(%(channel)s, 'q:' || queue_name), queue_name
FROM (SELECT DISTINCT queue_name FROM due) AS queues;

-- name: maintenance_expired_holders
-- PENDING work whose holder's lease expired (or that has no live holder row), bounded.
SELECT ws.workflow_uuid
FROM workflow_status ws
LEFT JOIN executors ex ON ex.instance_id = ws.owner_instance
WHERE ws.status = 'PENDING'
  AND (ex.instance_id IS NULL OR ex.stopped_at IS NOT NULL
       OR ex.heartbeat_at < %(now_ms)s - %(lease_ms)s)
  AND ws.updated_at < %(now_ms)s - %(lease_ms)s
LIMIT %(n)s;

-- name: schedule_register
INSERT INTO workflow_schedules (schedule_name, workflow_name, schedule)
VALUES (%(name)s, %(workflow_name)s, %(schedule)s)
ON CONFLICT (schedule_name) DO UPDATE SET workflow_name = EXCLUDED.workflow_name,
    schedule = EXCLUDED.schedule;

-- name: schedule_last_fired
SELECT last_fired_at FROM workflow_schedules WHERE schedule_name = %(name)s;

-- name: schedule_fired
UPDATE workflow_schedules SET last_fired_at = GREATEST(COALESCE(last_fired_at, 0), %(tick_ms)s)
WHERE schedule_name = %(name)s;

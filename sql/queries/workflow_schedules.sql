-- name: schedule_register
-- A schedule declared with @DBOS.scheduled (re-registered by every pool at start).
INSERT INTO workflow_schedules (schedule_name, workflow_name, schedule, kind, created_at)
VALUES (%(name)s, %(workflow_name)s, %(schedule)s, 'decorator', %(now_ms)s)
ON CONFLICT (schedule_name) DO UPDATE SET workflow_name = EXCLUDED.workflow_name,
    schedule = EXCLUDED.schedule;

-- name: schedule_create
-- A stored schedule (DBOS.create_schedule); returns the row as it stands after the call.
INSERT INTO workflow_schedules (schedule_name, workflow_name, schedule, kind, context,
                                automatic_backfill, cron_timezone, queue_name, created_at)
VALUES (%(name)s, %(workflow_name)s, %(schedule)s, 'dynamic', %(context)s,
        %(automatic_backfill)s, %(cron_timezone)s, %(queue_name)s, %(now_ms)s)
ON CONFLICT (schedule_name) DO NOTHING
RETURNING schedule_name;

-- name: schedule_get
SELECT schedule_name, workflow_name, schedule, status, kind, context, automatic_backfill,
       cron_timezone, queue_name, last_fired_at, created_at
FROM workflow_schedules WHERE schedule_name = %(name)s;

-- name: schedule_list
SELECT schedule_name, workflow_name, schedule, status, kind, context, automatic_backfill,
       cron_timezone, queue_name, last_fired_at, created_at
FROM workflow_schedules
WHERE (%(status)s::TEXT IS NULL OR status = %(status)s::TEXT)
  AND (%(workflow_name)s::TEXT IS NULL OR workflow_name = %(workflow_name)s::TEXT)
  AND (%(prefix)s::TEXT IS NULL OR starts_with(schedule_name, %(prefix)s::TEXT))
ORDER BY schedule_name;

-- name: schedule_set_status
-- Pause or resume; resuming restarts the clock so paused ticks are not fired late.
UPDATE workflow_schedules
SET status = %(status)s,
    last_fired_at = CASE WHEN %(status)s = 'ACTIVE' THEN %(now_ms)s ELSE last_fired_at END
WHERE schedule_name = %(name)s;

-- name: schedule_delete
DELETE FROM workflow_schedules WHERE schedule_name = %(name)s;

-- name: schedule_fired
UPDATE workflow_schedules SET last_fired_at = GREATEST(COALESCE(last_fired_at, 0), %(tick_ms)s)
WHERE schedule_name = %(name)s;

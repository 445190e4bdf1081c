-- name: schedule_register
-- A schedule declared with @DBOS.scheduled (re-registered by every pool at start).
INSERT INTO workflow_schedules (schedule_name, workflow_name, schedule, kind, created_at,
                                application_name)
VALUES (%(name)s, %(workflow_name)s, %(schedule)s, 'decorator', %(now_ms)s, %(application_name)s)
ON CONFLICT (schedule_name) DO UPDATE SET workflow_name = EXCLUDED.workflow_name,
    schedule = EXCLUDED.schedule;

-- name: schedule_create
-- A stored schedule (DBOS.create_schedule); no row when one of that name exists already.
INSERT INTO workflow_schedules (schedule_id, schedule_name, workflow_name, workflow_class_name,
                                schedule, kind, context, automatic_backfill, cron_timezone,
                                queue_name, application_name, created_at)
VALUES (%(schedule_id)s, %(name)s, %(workflow_name)s, %(workflow_class_name)s, %(schedule)s,
        'dynamic', %(context)s, %(automatic_backfill)s, %(cron_timezone)s, %(queue_name)s,
        %(application_name)s, %(now_ms)s)
ON CONFLICT (schedule_name) DO NOTHING
RETURNING schedule_name;

-- name: schedule_apply
-- Create or replace several schedules in one statement (DBOS.apply_schedules): a replaced
-- definition keeps its schedule_id, status and last_fired_at; when its cron or time zone
-- changed, its clock restarts (resumed_at) so ticks of the old definition are not fired late.
INSERT INTO workflow_schedules (schedule_id, schedule_name, workflow_name, workflow_class_name,
                                schedule, kind, context, automatic_backfill, cron_timezone,
                                queue_name, application_name, created_at)
SELECT t.schedule_id, t.schedule_name, t.workflow_name, t.workflow_class_name, t.schedule,
       'dynamic', t.context, t.automatic_backfill, t.cron_timezone, t.queue_name,
       %(application_name)s, %(now_ms)s
FROM unnest(%(schedule_ids)s::TEXT[], %(names)s::TEXT[], %(workflow_names)s::TEXT[],
            %(class_names)s::TEXT[], %(schedules)s::TEXT[], %(contexts)s::TEXT[],
            %(backfills)s::BOOLEAN[], %(timezones)s::TEXT[], %(queue_names)s::TEXT[])
    AS t(schedule_id, schedule_name, workflow_name, workflow_class_name, schedule, context,
         automatic_backfill, cron_timezone, queue_name)
ON CONFLICT (schedule_name) DO UPDATE SET
    workflow_name = EXCLUDED.workflow_name, workflow_class_name = EXCLUDED.workflow_class_name,
    schedule = EXCLUDED.schedule, kind = 'dynamic', context = EXCLUDED.context,
    automatic_backfill = EXCLUDED.automatic_backfill, cron_timezone = EXCLUDED.cron_timezone,
    queue_name = EXCLUDED.queue_name,
    application_name = COALESCE(workflow_schedules.application_name, EXCLUDED.application_name),
    resumed_at = CASE
        WHEN (workflow_schedules.schedule, workflow_schedules.cron_timezone)
             IS DISTINCT FROM (EXCLUDED.schedule, EXCLUDED.cron_timezone)
        THEN %(now_ms)s ELSE workflow_schedules.resumed_at END;

-- name: schedule_get
SELECT schedule_id, schedule_name, workflow_name, workflow_class_name, schedule, status, kind,
       context, automatic_backfill, cron_timezone, queue_name, application_name, last_fired_at,
       created_at, resumed_at
FROM workflow_schedules WHERE schedule_name = %(name)s;

-- name: schedule_list
-- Filters are arrays (NULL: any); a schedule matches a prefix list when any prefix matches.
SELECT schedule_id, schedule_name, workflow_name, workflow_class_name, schedule, status, kind,
       context, automatic_backfill, cron_timezone, queue_name, application_name, last_fired_at,
       created_at, resumed_at
FROM workflow_schedules
WHERE (%(statuses)s::TEXT[] IS NULL OR status = ANY(%(statuses)s::TEXT[]))
  AND (%(workflow_names)s::TEXT[] IS NULL OR workflow_name = ANY(%(workflow_names)s::TEXT[]))
  AND (%(prefixes)s::TEXT[] IS NULL
       OR EXISTS (SELECT 1 FROM unnest(%(prefixes)s::TEXT[]) AS p(prefix)
                  WHERE starts_with(schedule_name, p.prefix)))
  AND (%(applications)s::TEXT[] IS NULL OR application_name IS NULL
       OR application_name = ANY(%(applications)s::TEXT[]))
ORDER BY schedule_name;

-- name: schedule_set_status
-- Pause or resume (a no-op for a name that does not exist). Resuming a paused schedule
-- restarts its clock (resumed_at): ticks of the pause are not fired late, unless it backfills.
UPDATE workflow_schedules
SET resumed_at = CASE WHEN status = 'PAUSED' AND %(status)s = 'ACTIVE'
                      THEN %(now_ms)s ELSE resumed_at END,
    status = %(status)s
WHERE schedule_name = %(name)s;

-- name: schedule_delete
DELETE FROM workflow_schedules WHERE schedule_name = %(name)s;

-- name: schedule_fired
UPDATE workflow_schedules SET last_fired_at = GREATEST(COALESCE(last_fired_at, 0), %(tick_ms)s)
WHERE schedule_name = %(name)s;

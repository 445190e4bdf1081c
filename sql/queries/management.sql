-- Management (issue 13): list_workflows / list_queued_workflows with every DBOS filter,
-- fork_workflow, the per-queue summary of `dbos-workers queue list`.

-- name: workflow_search_asc
-- DBOS's list_workflows, oldest first. A NULL parameter is no filter; run with custom plans
-- (session_custom_plans_local) so the unused filters fold away and ORDER BY ... LIMIT walks
-- workflow_status_created_order (migration 15). The _asc and _desc twins differ only in
-- their ORDER BY: keep their WHERE clauses identical.
SELECT workflow_uuid, status, name, class_name, config_name,
       CASE WHEN %(load_input)s::BOOLEAN THEN inputs END AS inputs,
       CASE WHEN %(load_output)s::BOOLEAN THEN output END AS output,
       CASE WHEN %(load_output)s::BOOLEAN THEN error END AS error,
       serialization, queue_name, priority, deduplication_id, executor_id, owner_token,
       owner_instance, application_version, application_name, recovery_attempts,
       max_recovery_attempts, workflow_timeout_ms, workflow_deadline_epoch_ms,
       delay_until_epoch_ms, parent_workflow_id, rate_limited, created_at, updated_at,
       started_at_epoch_ms, completed_at, authenticated_user, authenticated_roles, assumed_role,
       attributes, queue_partition_key, forked_from, was_forked_from
FROM workflow_status
WHERE (%(workflow_ids)s::TEXT[] IS NULL OR workflow_uuid = ANY(%(workflow_ids)s::TEXT[]))
  AND (%(statuses)s::TEXT[] IS NULL OR status = ANY(%(statuses)s::TEXT[]))
  AND (%(start_ms)s::BIGINT IS NULL OR created_at >= %(start_ms)s::BIGINT)
  AND (%(end_ms)s::BIGINT IS NULL OR created_at <= %(end_ms)s::BIGINT)
  AND (%(completed_after_ms)s::BIGINT IS NULL OR completed_at >= %(completed_after_ms)s::BIGINT)
  AND (%(completed_before_ms)s::BIGINT IS NULL OR completed_at <= %(completed_before_ms)s::BIGINT)
  AND (%(dequeued_after_ms)s::BIGINT IS NULL OR started_at_epoch_ms >= %(dequeued_after_ms)s::BIGINT)
  AND (%(dequeued_before_ms)s::BIGINT IS NULL OR started_at_epoch_ms <= %(dequeued_before_ms)s::BIGINT)
  AND (%(names)s::TEXT[] IS NULL OR name = ANY(%(names)s::TEXT[]))
  AND (%(app_versions)s::TEXT[] IS NULL OR application_version = ANY(%(app_versions)s::TEXT[]))
  AND (%(forked_from)s::TEXT[] IS NULL OR forked_from = ANY(%(forked_from)s::TEXT[]))
  AND (%(parent_ids)s::TEXT[] IS NULL OR parent_workflow_id = ANY(%(parent_ids)s::TEXT[]))
  AND (%(users)s::TEXT[] IS NULL OR authenticated_user = ANY(%(users)s::TEXT[]))
  AND (%(queue_names)s::TEXT[] IS NULL OR queue_name = ANY(%(queue_names)s::TEXT[]))
  AND (%(executor_ids)s::TEXT[] IS NULL OR executor_id = ANY(%(executor_ids)s::TEXT[]))
  AND (%(application_names)s::TEXT[] IS NULL OR application_name = ANY(%(application_names)s::TEXT[]))
  AND (%(prefixes)s::TEXT[] IS NULL
       OR EXISTS (SELECT 1 FROM unnest(%(prefixes)s::TEXT[]) AS p(prefix)
                  WHERE starts_with(workflow_uuid, p.prefix)))
  AND (%(queues_only)s::BOOLEAN IS FALSE OR (queue_name IS NOT NULL
       AND (%(statuses)s::TEXT[] IS NOT NULL OR status IN ('ENQUEUED', 'PENDING', 'DELAYED'))))
  AND (%(was_forked_from)s::BOOLEAN IS NULL OR was_forked_from = %(was_forked_from)s::BOOLEAN)
  AND (%(is_fork)s::BOOLEAN IS NULL OR (forked_from IS NOT NULL) = %(is_fork)s::BOOLEAN)
  AND (%(has_parent)s::BOOLEAN IS NULL OR (parent_workflow_id IS NOT NULL) = %(has_parent)s::BOOLEAN)
  AND (%(attributes)s::JSONB IS NULL OR attributes @> %(attributes)s::JSONB)
ORDER BY created_at ASC, workflow_uuid ASC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: workflow_search_desc
-- DBOS's list_workflows, newest first (sort_desc). A NULL parameter is no filter; run with custom plans
-- (session_custom_plans_local) so the unused filters fold away and ORDER BY ... LIMIT walks
-- workflow_status_created_order (migration 15). The _asc and _desc twins differ only in
-- their ORDER BY: keep their WHERE clauses identical.
SELECT workflow_uuid, status, name, class_name, config_name,
       CASE WHEN %(load_input)s::BOOLEAN THEN inputs END AS inputs,
       CASE WHEN %(load_output)s::BOOLEAN THEN output END AS output,
       CASE WHEN %(load_output)s::BOOLEAN THEN error END AS error,
       serialization, queue_name, priority, deduplication_id, executor_id, owner_token,
       owner_instance, application_version, application_name, recovery_attempts,
       max_recovery_attempts, workflow_timeout_ms, workflow_deadline_epoch_ms,
       delay_until_epoch_ms, parent_workflow_id, rate_limited, created_at, updated_at,
       started_at_epoch_ms, completed_at, authenticated_user, authenticated_roles, assumed_role,
       attributes, queue_partition_key, forked_from, was_forked_from
FROM workflow_status
WHERE (%(workflow_ids)s::TEXT[] IS NULL OR workflow_uuid = ANY(%(workflow_ids)s::TEXT[]))
  AND (%(statuses)s::TEXT[] IS NULL OR status = ANY(%(statuses)s::TEXT[]))
  AND (%(start_ms)s::BIGINT IS NULL OR created_at >= %(start_ms)s::BIGINT)
  AND (%(end_ms)s::BIGINT IS NULL OR created_at <= %(end_ms)s::BIGINT)
  AND (%(completed_after_ms)s::BIGINT IS NULL OR completed_at >= %(completed_after_ms)s::BIGINT)
  AND (%(completed_before_ms)s::BIGINT IS NULL OR completed_at <= %(completed_before_ms)s::BIGINT)
  AND (%(dequeued_after_ms)s::BIGINT IS NULL OR started_at_epoch_ms >= %(dequeued_after_ms)s::BIGINT)
  AND (%(dequeued_before_ms)s::BIGINT IS NULL OR started_at_epoch_ms <= %(dequeued_before_ms)s::BIGINT)
  AND (%(names)s::TEXT[] IS NULL OR name = ANY(%(names)s::TEXT[]))
  AND (%(app_versions)s::TEXT[] IS NULL OR application_version = ANY(%(app_versions)s::TEXT[]))
  AND (%(forked_from)s::TEXT[] IS NULL OR forked_from = ANY(%(forked_from)s::TEXT[]))
  AND (%(parent_ids)s::TEXT[] IS NULL OR parent_workflow_id = ANY(%(parent_ids)s::TEXT[]))
  AND (%(users)s::TEXT[] IS NULL OR authenticated_user = ANY(%(users)s::TEXT[]))
  AND (%(queue_names)s::TEXT[] IS NULL OR queue_name = ANY(%(queue_names)s::TEXT[]))
  AND (%(executor_ids)s::TEXT[] IS NULL OR executor_id = ANY(%(executor_ids)s::TEXT[]))
  AND (%(application_names)s::TEXT[] IS NULL OR application_name = ANY(%(application_names)s::TEXT[]))
  AND (%(prefixes)s::TEXT[] IS NULL
       OR EXISTS (SELECT 1 FROM unnest(%(prefixes)s::TEXT[]) AS p(prefix)
                  WHERE starts_with(workflow_uuid, p.prefix)))
  AND (%(queues_only)s::BOOLEAN IS FALSE OR (queue_name IS NOT NULL
       AND (%(statuses)s::TEXT[] IS NOT NULL OR status IN ('ENQUEUED', 'PENDING', 'DELAYED'))))
  AND (%(was_forked_from)s::BOOLEAN IS NULL OR was_forked_from = %(was_forked_from)s::BOOLEAN)
  AND (%(is_fork)s::BOOLEAN IS NULL OR (forked_from IS NOT NULL) = %(is_fork)s::BOOLEAN)
  AND (%(has_parent)s::BOOLEAN IS NULL OR (parent_workflow_id IS NOT NULL) = %(has_parent)s::BOOLEAN)
  AND (%(attributes)s::JSONB IS NULL OR attributes @> %(attributes)s::JSONB)
ORDER BY created_at DESC, workflow_uuid DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: workflow_fork_insert
-- The fork: a new ENQUEUED row with the original's function, instance, inputs, identity and
-- attributes; forked_from names the original. NULL when the new id is taken (nothing written)
-- or the original does not exist (see `found`). Wakes the fork's queue.
WITH original AS (
    SELECT * FROM workflow_status WHERE workflow_uuid = %(workflow_id)s
), forked AS (
    INSERT INTO workflow_status (workflow_uuid, status, name, class_name, config_name, inputs,
        serialization, queue_name, priority, application_version, application_name,
        recovery_attempts, max_recovery_attempts, workflow_timeout_ms, created_at, updated_at,
        authenticated_user, authenticated_roles, assumed_role, attributes, forked_from)
    SELECT %(new_id)s, 'ENQUEUED', o.name, o.class_name, o.config_name, o.inputs,
           o.serialization, %(queue_name)s, 0, COALESCE(%(application_version)s, o.application_version),
           o.application_name, 0, o.max_recovery_attempts,
           COALESCE(%(timeout_ms)s::BIGINT, o.workflow_timeout_ms), %(now_ms)s, %(now_ms)s,
           o.authenticated_user, o.authenticated_roles, o.assumed_role, o.attributes, o.workflow_uuid
    FROM original o
    ON CONFLICT (workflow_uuid) DO NOTHING
    RETURNING workflow_uuid, queue_name
), woken AS (
    SELECT pg_notify(%(channel)s, 'q:' || queue_name) FROM forked
)
SELECT (SELECT count(*) FROM original) > 0 AS found,
       (SELECT workflow_uuid FROM forked) AS forked_id,
       (SELECT count(*) FROM woken) AS woken;

-- name: workflow_fork_copy_history
-- The fork's history before start_step: the original's recorded operations (function_id <
-- start_step), its stream values written by them, and, when any operation is copied, its
-- events (dbos-workers keeps each key's last value, not DBOS's per-step history); the
-- original is marked was_forked_from.
WITH steps AS (
    INSERT INTO operation_outputs (workflow_uuid, function_id, function_name, output, error,
                                   child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms)
    SELECT %(new_id)s, function_id, function_name, output, error, child_workflow_id,
           started_at_epoch_ms, completed_at_epoch_ms
    FROM operation_outputs
    WHERE workflow_uuid = %(workflow_id)s AND function_id < %(start_step)s
    RETURNING function_id
), events AS (
    INSERT INTO workflow_events (workflow_uuid, key, value)
    SELECT %(new_id)s, key, value FROM workflow_events
    WHERE workflow_uuid = %(workflow_id)s AND %(start_step)s > 1
    RETURNING key
), streams AS (
    INSERT INTO streams (workflow_uuid, key, "offset", value, serialization, function_id)
    SELECT %(new_id)s, key, "offset", value, serialization, function_id FROM streams
    WHERE workflow_uuid = %(workflow_id)s AND function_id < %(start_step)s
    RETURNING key
), marked AS (
    UPDATE workflow_status SET was_forked_from = TRUE
    WHERE workflow_uuid = %(workflow_id)s
    RETURNING workflow_uuid
)
SELECT (SELECT count(*) FROM steps) AS steps, (SELECT count(*) FROM events) AS events,
       (SELECT count(*) FROM streams) AS streams, (SELECT count(*) FROM marked) AS marked;

-- name: queue_summary
-- Per queue (registered or with rows): ENQUEUED (and how many parked: names no running
-- process knows), PENDING and DELAYED counts, the oldest waiting row's age, and the queue's
-- limits. Counts come from the partial indexes on active rows (runnable, parked, pending,
-- delayed), not a scan of finished history.
WITH active AS (
    SELECT queue_name, status, parked, created_at FROM workflow_status
    WHERE status IN ('ENQUEUED', 'PENDING', 'DELAYED') AND queue_name IS NOT NULL
), counts AS (
    SELECT queue_name,
           count(*) FILTER (WHERE status = 'ENQUEUED') AS enqueued,
           count(*) FILTER (WHERE status = 'ENQUEUED' AND parked) AS parked,
           count(*) FILTER (WHERE status = 'PENDING') AS pending,
           count(*) FILTER (WHERE status = 'DELAYED') AS delayed,
           min(created_at) FILTER (WHERE status = 'ENQUEUED') AS oldest_enqueued_at
    FROM active GROUP BY queue_name
)
SELECT COALESCE(q.name, c.queue_name) AS name, COALESCE(c.enqueued, 0) AS enqueued,
       COALESCE(c.parked, 0) AS parked, COALESCE(c.pending, 0) AS pending,
       COALESCE(c.delayed, 0) AS delayed,
       CASE WHEN c.oldest_enqueued_at IS NULL THEN NULL
            ELSE %(now_ms)s - c.oldest_enqueued_at END AS oldest_age_ms,
       q.concurrency, q.worker_concurrency, q.rate_limit_max, q.rate_limit_period_sec,
       q.name IS NOT NULL AS registered
FROM queues q FULL OUTER JOIN counts c ON c.queue_name = q.name
ORDER BY 1;

-- name: schema_migrated_version
-- The newest migration applied to this schema (NULL: none); the client checks it, never
-- migrates.
SELECT max(version) AS version FROM migrations;

-- name: step_list
-- All recorded operations of a workflow (loaded once when an execution starts or resumes).
SELECT function_id, function_name, output, error, child_workflow_id,
       started_at_epoch_ms, completed_at_epoch_ms
FROM operation_outputs WHERE workflow_uuid = %(workflow_id)s ORDER BY function_id;

-- name: step_record
-- Checkpoint one operation if this execution still owns the workflow (used inside the recv
-- transaction). The row lock (FOR SHARE) orders the write against a concurrent takeover.
-- Returns the workflow's status and owner, and whether the row was written.
WITH owner AS (
    SELECT status, owner_token FROM workflow_status
    WHERE workflow_uuid = %(workflow_id)s FOR SHARE
), ins AS (
    INSERT INTO operation_outputs (workflow_uuid, function_id, function_name, output, error,
                                   child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms)
    SELECT %(workflow_id)s, %(function_id)s, %(function_name)s, %(output)s, %(error)s,
           %(child_workflow_id)s, %(started_at_ms)s, %(now_ms)s
    FROM owner WHERE owner.status = 'PENDING' AND owner.owner_token = %(owner_token)s
    ON CONFLICT (workflow_uuid, function_id) DO NOTHING
    RETURNING 1
)
SELECT owner.status, owner.owner_token, (SELECT count(*) FROM ins) AS written FROM owner;

-- name: step_record_batch
-- Checkpoint several operations (group commit), each only if its execution still owns the
-- workflow (a cancelled workflow keeps the steps it completed: resume replays them). Share
-- locks are taken in id order. One row per input with status, owner, written.
WITH input AS (
    SELECT * FROM unnest(%(workflow_ids)s::TEXT[], %(function_ids)s::INTEGER[],
                         %(function_names)s::TEXT[], %(outputs)s::TEXT[], %(errors)s::TEXT[],
                         %(child_ids)s::TEXT[], %(started)s::BIGINT[], %(owner_tokens)s::TEXT[],
                         %(completed)s::BIGINT[])
        AS t(workflow_uuid, function_id, function_name, output, error, child_workflow_id,
             started_at_epoch_ms, owner_token, completed_at_epoch_ms)
), owner AS (
    SELECT ws.workflow_uuid, ws.status, ws.owner_token FROM workflow_status ws
    WHERE ws.workflow_uuid IN (SELECT workflow_uuid FROM input)
    ORDER BY ws.workflow_uuid FOR SHARE OF ws
), ins AS (
    INSERT INTO operation_outputs (workflow_uuid, function_id, function_name, output, error,
                                   child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms)
    SELECT i.workflow_uuid, i.function_id, i.function_name, i.output, i.error,
           i.child_workflow_id, i.started_at_epoch_ms, COALESCE(i.completed_at_epoch_ms, %(now_ms)s)
    FROM input i JOIN owner o ON o.workflow_uuid = i.workflow_uuid
    WHERE o.status IN ('PENDING', 'CANCELLED') AND o.owner_token = i.owner_token
    ON CONFLICT (workflow_uuid, function_id) DO NOTHING
    RETURNING workflow_uuid, function_id
)
SELECT i.workflow_uuid, i.function_id, o.status, o.owner_token,
       EXISTS (SELECT 1 FROM ins WHERE ins.workflow_uuid = i.workflow_uuid
                                   AND ins.function_id = i.function_id) AS written
FROM input i LEFT JOIN owner o ON o.workflow_uuid = i.workflow_uuid;

-- name: step_get
SELECT function_name, output, error, child_workflow_id FROM operation_outputs
WHERE workflow_uuid = %(workflow_id)s AND function_id = %(function_id)s;

-- name: step_list
-- All recorded operations of a workflow (loaded once when an execution starts or resumes).
SELECT function_id, function_name, output, error, child_workflow_id,
       started_at_epoch_ms, completed_at_epoch_ms
FROM operation_outputs WHERE workflow_uuid = %(workflow_id)s ORDER BY function_id;

-- name: step_record
-- Checkpoint one operation if this execution still owns the workflow. The row lock (FOR SHARE)
-- orders the write against a concurrent takeover. Returns the workflow's status and owner, and
-- whether the row was written.
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

-- name: step_get
SELECT function_name, output, error, child_workflow_id FROM operation_outputs
WHERE workflow_uuid = %(workflow_id)s AND function_id = %(function_id)s;

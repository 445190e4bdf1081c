-- Workflow administration by id: which exist, their children, delete, delay.

-- name: workflow_existing
SELECT workflow_uuid FROM workflow_status WHERE workflow_uuid = ANY(%(workflow_ids)s::TEXT[]);

-- name: workflow_children
-- The direct children of some workflows (workflow_status_parent, migration 16).
SELECT workflow_uuid FROM workflow_status
WHERE parent_workflow_id = ANY(%(workflow_ids)s::TEXT[]);

-- name: workflow_delete
-- Delete workflows with their recorded operations; messages, events and streams go with them
-- (ON DELETE CASCADE). A running one is deleted too (as DBOS): its runner's next write finds
-- no row and stops.
WITH steps AS (
    DELETE FROM operation_outputs WHERE workflow_uuid = ANY(%(workflow_ids)s::TEXT[])
)
DELETE FROM workflow_status WHERE workflow_uuid = ANY(%(workflow_ids)s::TEXT[])
RETURNING workflow_uuid;

-- name: workflow_set_delay
-- Move the start of a DELAYED workflow (the leader promotes it when due); others are untouched.
UPDATE workflow_status SET delay_until_epoch_ms = %(delay_until_ms)s, updated_at = %(now_ms)s
WHERE workflow_uuid = %(workflow_id)s AND status = 'DELAYED'
RETURNING workflow_uuid;

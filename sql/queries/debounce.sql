-- Queries of the Debouncer on workflow_status (see migration 11).

-- name: debounce_bounce
-- Push the start of the debounced workflow that waits (DELAYED) under this key on this queue
-- to delay_until_ms, capped at its debounce deadline, and replace its inputs; only a row of
-- this workflow name (two names can make one key). In the same statement, who holds the key
-- (from the statement's snapshot) when nothing was bounced.
WITH bounced AS (
    UPDATE workflow_status
    SET delay_until_epoch_ms = LEAST(%(delay_until_ms)s::BIGINT,
                                     COALESCE(debounce_deadline_epoch_ms, %(delay_until_ms)s::BIGINT)),
        inputs = %(inputs)s, serialization = %(serialization)s, updated_at = %(now_ms)s
    WHERE queue_name = %(queue_name)s AND deduplication_id = %(deduplication_id)s
      AND name = %(name)s AND status = 'DELAYED' AND is_debounced
    RETURNING workflow_uuid
)
SELECT (SELECT workflow_uuid FROM bounced) AS bounced_workflow_id,
       h.workflow_uuid AS holder_workflow_id, h.is_debounced AS holder_is_debounced,
       h.name AS holder_workflow_name
FROM (SELECT 1) AS one
LEFT JOIN workflow_status h
    ON h.queue_name = %(queue_name)s AND h.deduplication_id = %(deduplication_id)s;

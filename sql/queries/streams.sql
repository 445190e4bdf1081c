-- name: stream_write
-- Append a value (NULL: the close marker) at the stream's next offset, only while this
-- execution owns the workflow (the row lock orders it against a cancel or a takeover: a value
-- never lands after its workflow left PENDING). With record, the workflow's operation
-- `function_id` is checkpointed in the same statement and the value is written only with it:
-- a write from a workflow happens exactly once. A concurrent writer of the same stream makes
-- the offset collide (unique violation): the caller retries with a fresh snapshot.
WITH owner AS (
    SELECT status, owner_token FROM workflow_status
    WHERE workflow_uuid = %(workflow_id)s FOR SHARE
), rec AS (
    INSERT INTO operation_outputs (workflow_uuid, function_id, function_name, output, error,
                                   child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms)
    SELECT %(workflow_id)s, %(function_id)s, %(function_name)s, NULL, NULL, NULL,
           %(started_at_ms)s, %(now_ms)s
    FROM owner
    WHERE %(record)s AND owner.status = 'PENDING' AND owner.owner_token = %(owner_token)s
    ON CONFLICT (workflow_uuid, function_id) DO NOTHING
    RETURNING 1
), ins AS (
    INSERT INTO streams (workflow_uuid, key, "offset", value, serialization, function_id)
    SELECT %(workflow_id)s, %(key)s,
           COALESCE((SELECT max(s."offset") FROM streams s
                     WHERE s.workflow_uuid = %(workflow_id)s AND s.key = %(key)s), -1) + 1,
           %(value)s, %(serialization)s, %(function_id)s
    FROM owner
    WHERE owner.status = 'PENDING' AND owner.owner_token = %(owner_token)s
      AND (NOT %(record)s OR EXISTS (SELECT 1 FROM rec))
    RETURNING workflow_uuid, key
), wake AS (
    SELECT pg_notify(%(channel)s || '_done', wake_key('s:', workflow_uuid || '::' || key)) FROM ins
)
SELECT owner.status, owner.owner_token,
       CASE WHEN %(record)s THEN (SELECT count(*) FROM rec) ELSE (SELECT count(*) FROM ins) END
           AS written,
       (SELECT count(*) FROM wake) AS woke
FROM owner;

-- name: stream_read
-- Up to `limit` values of a stream from `offset` on, with the writer's status, from one
-- snapshot (no row: no such workflow; one row with a NULL offset: nothing at `offset` yet).
SELECT ws.status, s."offset", s.value
FROM workflow_status ws
LEFT JOIN streams s ON s.workflow_uuid = ws.workflow_uuid AND s.key = %(key)s
     AND s."offset" >= %(offset)s AND s."offset" < %(offset)s + %(limit)s
WHERE ws.workflow_uuid = %(workflow_id)s
ORDER BY s."offset";

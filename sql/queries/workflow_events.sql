-- name: event_set
WITH up AS (
    INSERT INTO workflow_events (workflow_uuid, key, value)
    VALUES (%(workflow_id)s, %(key)s, %(value)s)
    ON CONFLICT (workflow_uuid, key) DO UPDATE SET value = EXCLUDED.value
    RETURNING workflow_uuid, key
)
SELECT pg_notify(%(channel)s || '_done', wake_key('e:', workflow_uuid || '::' || key)) FROM up;

-- name: event_get
SELECT value FROM workflow_events WHERE workflow_uuid = %(workflow_id)s AND key = %(key)s;

-- name: event_list
SELECT key, value FROM workflow_events WHERE workflow_uuid = %(workflow_id)s ORDER BY key;

-- name: message_send
-- Insert a message (idempotent on message_uuid) and wake the receiver.
WITH ins AS (
    INSERT INTO notifications (message_uuid, destination_uuid, topic, message, created_at_epoch_ms)
    VALUES (%(message_id)s, %(destination_id)s, %(topic)s, %(message)s, %(now_ms)s)
    ON CONFLICT (message_uuid) DO NOTHING
    RETURNING destination_uuid, topic
)
SELECT pg_notify(%(channel)s || '_done', wake_key('m:', destination_uuid || '::' || topic)) FROM ins;

-- name: message_consume
-- Consume the oldest unconsumed message on a topic (the caller records the step in the
-- same transaction, so delivery is exactly once). No row: nothing to consume. A row whose
-- message is NULL: the oldest was being consumed by another transaction that committed
-- meanwhile; run the statement again. The update waits for a lock on the oldest message
-- instead of skipping it: a fenced former runner of the workflow (its lease taken over)
-- may hold it for the moment its own attempt takes to roll back, and SKIP LOCKED then
-- delivered the next message first (seen: m1, m0, m2 in the randomized fault schedule).
WITH head AS (
    SELECT message_uuid FROM notifications
    WHERE destination_uuid = %(workflow_id)s AND topic = %(topic)s AND NOT consumed
    ORDER BY seq LIMIT 1
), taken AS (
    UPDATE notifications n SET consumed = TRUE
    FROM head WHERE n.message_uuid = head.message_uuid AND NOT n.consumed
    RETURNING n.message
)
SELECT taken.message FROM head LEFT JOIN taken ON TRUE;

-- name: message_send_batch
-- Insert several messages in one statement (all or none: a missing destination fails them
-- all), each idempotent on its id, and wake their receivers.
WITH ins AS (
    INSERT INTO notifications (message_uuid, destination_uuid, topic, message, created_at_epoch_ms)
    SELECT t.message_uuid, t.destination_uuid, t.topic, t.message, %(now_ms)s
    FROM unnest(%(message_ids)s::TEXT[], %(destination_ids)s::TEXT[], %(topics)s::TEXT[],
                %(messages)s::TEXT[]) WITH ORDINALITY AS t(message_uuid, destination_uuid, topic, message, n)
    ORDER BY t.n
    ON CONFLICT (message_uuid) DO NOTHING
    RETURNING destination_uuid, topic
)
SELECT pg_notify(%(channel)s || '_done', wake_key('m:', destination_uuid || '::' || topic))
FROM (SELECT DISTINCT destination_uuid, topic FROM ins) AS woken;

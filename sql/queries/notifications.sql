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
-- same transaction, so delivery is exactly once).
UPDATE notifications SET consumed = TRUE
WHERE message_uuid = (
    SELECT message_uuid FROM notifications
    WHERE destination_uuid = %(workflow_id)s AND topic = %(topic)s AND NOT consumed
    ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING message;

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

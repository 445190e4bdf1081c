-- NOTIFY payloads are limited to 8000 bytes: long keys (workflow ids, topics, event keys) are
-- sent as '#' || md5(key). Python computes the same key (dbos_workers.db.listener.wake_key).
CREATE FUNCTION wake_key(prefix TEXT, key TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN octet_length(key) <= 1000 THEN prefix || key ELSE prefix || '#' || md5(key) END
$$;

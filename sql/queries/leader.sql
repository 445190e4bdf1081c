-- name: leader_session_setup
-- The elector's dedicated session works in the system schema.
SET search_path TO {schema};

-- name: leader_try_lock
-- Take the election lock (session advisory lock) and, when taken, record this session as the
-- leader in the same statement: the row names the lock holder's backend from the first instant.
WITH taken AS (SELECT pg_try_advisory_lock(%(key)s::bigint) AS acquired),
recorded AS (
    INSERT INTO leader (election_key, instance_id, executor_id, elected_at, renewed_at, backend_pid)
    SELECT %(key)s::bigint, %(instance_id)s, %(executor_id)s, db_now_ms(), db_now_ms(), pg_backend_pid()
    FROM taken WHERE taken.acquired
    ON CONFLICT (election_key) DO UPDATE SET instance_id = EXCLUDED.instance_id,
        executor_id = EXCLUDED.executor_id, elected_at = EXCLUDED.elected_at,
        renewed_at = EXCLUDED.renewed_at, backend_pid = EXCLUDED.backend_pid
    RETURNING election_key
)
SELECT acquired FROM taken;

-- name: leader_renew
-- The leader's lease renewal, from the session that holds the lock; no row = not the leader.
UPDATE leader SET renewed_at = db_now_ms()
WHERE election_key = %(key)s::bigint AND instance_id = %(instance_id)s
  AND backend_pid = pg_backend_pid()
RETURNING renewed_at;

-- name: leader_fence_stale
-- A follower whose try-lock failed: if the recorded leader's lease lapsed, terminate the
-- backend that holds the election lock, provided it is the session the leader row names (a
-- frozen leader keeps its session and its lock). pg_locks shows a bigint advisory key as
-- classid = high 32 bits, objid = low 32 bits, objsubid = 1; it is read only when the row is
-- stale (the correlated subquery runs per stale row). pg_terminate_backend waits up to wait_ms
-- for the backend to exit (Postgres 14+). No row: nothing to fence.
WITH stale AS MATERIALIZED (
    SELECT executor_id, instance_id, backend_pid, db_now_ms() - renewed_at AS stale_ms,
        (SELECT lk.pid FROM pg_locks AS lk
         WHERE lk.pid = leader.backend_pid AND lk.locktype = 'advisory' AND lk.granted
           AND lk.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND lk.classid = ((%(key)s::bigint >> 32) & 4294967295)::oid
           AND lk.objid = (%(key)s::bigint & 4294967295)::oid AND lk.objsubid = 1
         LIMIT 1) AS holder_pid
    FROM leader
    WHERE election_key = %(key)s::bigint AND renewed_at < db_now_ms() - %(lease_ms)s
)
SELECT executor_id, instance_id, backend_pid, stale_ms,
       pg_terminate_backend(holder_pid, %(wait_ms)s) AS terminated
FROM stale WHERE holder_pid IS NOT NULL;

-- name: leader_current
SELECT instance_id, executor_id, elected_at, renewed_at FROM leader WHERE election_key = %(key)s;

-- name: maintenance_promote_delayed
-- DELAYED workflows that are due become ENQUEUED (bounded batch); wakes their queues. A
-- debounced one gives its debounce key (deduplication id) up: the next debounce starts afresh.
WITH due AS (
    UPDATE workflow_status SET status = 'ENQUEUED', updated_at = %(now_ms)s,
        deduplication_id = CASE WHEN is_debounced THEN NULL ELSE deduplication_id END
    WHERE workflow_uuid IN (
        SELECT workflow_uuid FROM workflow_status
        WHERE status = 'DELAYED' AND delay_until_epoch_ms <= %(now_ms)s
        ORDER BY delay_until_epoch_ms LIMIT %(n)s FOR UPDATE SKIP LOCKED)
    RETURNING queue_name
)
SELECT pg_notify(%(channel)s, 'q:' || queue_name), queue_name
FROM (SELECT DISTINCT queue_name FROM due) AS queues;

-- name: maintenance_recover_expired
-- Hand PENDING work whose holder's lease expired (or that has no live holder row) back to
-- its queue, bounded, in one statement. Lease ages are measured on the database's clock
-- only. The live-but-silent holders' executor rows are locked (FOR UPDATE, re-checked on
-- their latest version) until this statement commits: a heartbeat renewing such a lease
-- waits for it, and the holder's ownership read after the renewal sees the requeue; a
-- renewal that landed first takes its holder out of the sweep (lease.py). One statement, not
-- a transaction of several: a leader cut off between statements left its open transaction's
-- locks on the server, and every renewal of those holders and the next leader's sweep waited
-- for them (the randomized schedule, seed 7: a new leader stalled 2 s and cron ticks fell out
-- of the failover window). Nor does it wait for locks others hold (SKIP LOCKED: a renewal in
-- progress, or a cut-off holder's open transaction on its row); those rows are looked at again
-- on the next tick, so the leader's loop, which also fires cron, never stalls here. A row is
-- moved only while still held by the owner token seen.
WITH candidate AS (
    SELECT ws.workflow_uuid, ws.owner_token, ws.owner_instance,
           ex.instance_id IS NULL OR ex.stopped_at IS NOT NULL AS holderless
    FROM workflow_status ws
    LEFT JOIN executors ex ON ex.instance_id = ws.owner_instance
    WHERE ws.status = 'PENDING'
      AND (ex.instance_id IS NULL OR ex.stopped_at IS NOT NULL
           OR ex.heartbeat_at < db_now_ms() - %(lease_ms)s::BIGINT)
      AND ws.updated_at < db_now_ms() - %(lease_ms)s::BIGINT
    LIMIT %(n)s
), silent AS (
    SELECT instance_id FROM executors
    WHERE instance_id IN (SELECT owner_instance FROM candidate WHERE NOT holderless)
      AND stopped_at IS NULL AND heartbeat_at < db_now_ms() - %(lease_ms)s::BIGINT
    ORDER BY instance_id
    FOR UPDATE SKIP LOCKED
), target AS MATERIALIZED (
    SELECT c.workflow_uuid, c.owner_token FROM candidate c
    WHERE c.holderless OR c.owner_instance IN (SELECT instance_id FROM silent)
), lockable AS MATERIALIZED (
    SELECT w.workflow_uuid FROM workflow_status w
    WHERE w.workflow_uuid = ANY(ARRAY(SELECT workflow_uuid FROM target))
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE workflow_status ws
    SET status = 'ENQUEUED', owner_token = NULL, owner_instance = NULL, parked = FALSE,
        queue_name = COALESCE(ws.queue_name, %(default_queue)s), updated_at = %(now_ms)s
    WHERE ws.workflow_uuid = ANY(ARRAY(SELECT workflow_uuid FROM lockable)) AND ws.status = 'PENDING'
      AND EXISTS (SELECT 1 FROM target t WHERE t.workflow_uuid = ws.workflow_uuid
                  AND (t.owner_token IS NULL OR t.owner_token = ws.owner_token))
    RETURNING ws.queue_name
)
SELECT pg_notify(%(channel)s, 'q:' || queue_name), queue_name, moved
FROM (SELECT queue_name, count(*) AS moved FROM moved GROUP BY queue_name) AS queues;

-- name: maintenance_prune_finished
-- Delete finished workflows completed before the cutoff (bounded batch) with their recorded
-- operations; messages and events go with them (ON DELETE CASCADE).
WITH doomed AS (
    SELECT workflow_uuid FROM workflow_status
    WHERE status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')
      AND completed_at < %(cutoff_ms)s
    LIMIT %(n)s FOR UPDATE SKIP LOCKED
), steps AS (
    DELETE FROM operation_outputs WHERE workflow_uuid IN (SELECT workflow_uuid FROM doomed)
)
DELETE FROM workflow_status WHERE workflow_uuid IN (SELECT workflow_uuid FROM doomed)
RETURNING workflow_uuid;

-- name: maintenance_prune_executors
-- Forget executor instances that stopped (or went silent) long ago and hold nothing.
DELETE FROM executors ex
WHERE ex.instance_id IN (
    SELECT instance_id FROM executors
    WHERE COALESCE(stopped_at, heartbeat_at) < %(cutoff_ms)s
    LIMIT %(n)s)
  AND NOT EXISTS (SELECT 1 FROM workflow_status ws
                  WHERE ws.status = 'PENDING' AND ws.owner_instance = ex.instance_id);

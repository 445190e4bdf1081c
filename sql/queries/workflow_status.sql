-- Queries on workflow_status. Parameters are psycopg named parameters; {identifiers} are
-- composed with psycopg.sql.Identifier. Every query that needs the time takes now_ms.

-- name: workflow_insert
-- Start or enqueue a workflow; idempotent on workflow id. Returns the row either way.
-- When notify is true and the row is new and ENQUEUED, wakes workers of its queue.
WITH ins AS (
    INSERT INTO workflow_status (
        workflow_uuid, status, name, class_name, config_name, inputs, serialization,
        queue_name, priority, deduplication_id, executor_id, owner_token, owner_instance,
        application_version, application_name, recovery_attempts, max_recovery_attempts,
        workflow_timeout_ms, workflow_deadline_epoch_ms, delay_until_epoch_ms,
        parent_workflow_id, created_at, updated_at, started_at_epoch_ms, queue_partition_key,
        is_debounced, debounce_deadline_epoch_ms, authenticated_user, authenticated_roles,
        assumed_role, attributes, trace_context)
    VALUES (
        %(workflow_id)s, %(status)s, %(name)s, %(class_name)s, %(config_name)s, %(inputs)s,
        %(serialization)s, %(queue_name)s, %(priority)s, %(deduplication_id)s, %(executor_id)s,
        %(owner_token)s, %(owner_instance)s, %(application_version)s, %(application_name)s,
        %(recovery_attempts)s, %(max_recovery_attempts)s, %(timeout_ms)s, %(deadline_ms)s,
        %(delay_until_ms)s, %(parent_workflow_id)s, %(now_ms)s, %(now_ms)s, %(started_at_ms)s,
        %(queue_partition_key)s, %(is_debounced)s, %(debounce_deadline_ms)s,
        %(authenticated_user)s, %(authenticated_roles)s, %(assumed_role)s, %(attributes)s::JSONB,
        %(trace_context)s)
    ON CONFLICT (workflow_uuid) DO NOTHING
    RETURNING workflow_uuid, status, name, queue_name, class_name, config_name
), wake AS (
    SELECT pg_notify(%(channel)s, 'q:' || queue_name) FROM ins
    WHERE %(notify)s AND status = 'ENQUEUED'
)
SELECT TRUE AS inserted, ins.status, ins.name, NULL::TEXT AS output, NULL::TEXT AS error,
       (SELECT count(*) FROM wake) AS woke, ins.class_name, ins.config_name
FROM ins
UNION ALL
SELECT FALSE, ws.status, ws.name, ws.output, ws.error, 0, ws.class_name, ws.config_name
FROM workflow_status ws
WHERE ws.workflow_uuid = %(workflow_id)s AND NOT EXISTS (SELECT 1 FROM ins);

-- name: workflow_enqueue_batch
-- Enqueue several workflows in one statement (concurrent enqueues of a process share it, and
-- enqueue_many); idempotent on workflow id. Any conflict skips the row: a row with that id
-- (existing) comes back with inserted = FALSE, a deduplication conflict with status NULL
-- (the caller tells it from an insert that committed after this statement's snapshot); one
-- row per input, in input order. Wakes
-- the queues of new ENQUEUED rows whose item asked for it, once per queue.
WITH input AS (
    SELECT * FROM unnest(%(workflow_ids)s::TEXT[], %(statuses)s::TEXT[], %(names)s::TEXT[],
                         %(class_names)s::TEXT[], %(config_names)s::TEXT[], %(inputs)s::TEXT[],
                         %(serializations)s::TEXT[], %(queue_names)s::TEXT[],
                         %(priorities)s::INTEGER[], %(deduplication_ids)s::TEXT[],
                         %(application_versions)s::TEXT[], %(application_names)s::TEXT[],
                         %(max_recovery_attempts)s::INTEGER[], %(timeout_ms)s::BIGINT[],
                         %(delay_until_ms)s::BIGINT[], %(parent_workflow_ids)s::TEXT[],
                         %(queue_partition_keys)s::TEXT[], %(is_debounced)s::BOOLEAN[],
                         %(debounce_deadlines_ms)s::BIGINT[], %(authenticated_users)s::TEXT[],
                         %(authenticated_roles)s::TEXT[], %(assumed_roles)s::TEXT[],
                         %(attributes)s::TEXT[], %(notifies)s::BOOLEAN[],
                         %(trace_contexts)s::TEXT[]) WITH ORDINALITY
        AS t(workflow_uuid, status, name, class_name, config_name, inputs, serialization,
             queue_name, priority, deduplication_id, application_version, application_name,
             max_recovery_attempts, workflow_timeout_ms, delay_until_epoch_ms,
             parent_workflow_id, queue_partition_key, is_debounced, debounce_deadline_epoch_ms,
             authenticated_user, authenticated_roles, assumed_role, attributes, notify, trace_context,
             ord)
), ins AS (
    INSERT INTO workflow_status (
        workflow_uuid, status, name, class_name, config_name, inputs, serialization, queue_name,
        priority, deduplication_id, application_version, application_name, recovery_attempts,
        max_recovery_attempts, workflow_timeout_ms, delay_until_epoch_ms, parent_workflow_id,
        queue_partition_key, is_debounced, debounce_deadline_epoch_ms, authenticated_user,
        authenticated_roles, assumed_role, attributes, created_at, updated_at, trace_context)
    SELECT workflow_uuid, status, name, class_name, config_name, inputs, serialization,
           queue_name, priority, deduplication_id, application_version, application_name, 0,
           max_recovery_attempts, workflow_timeout_ms, delay_until_epoch_ms, parent_workflow_id,
           queue_partition_key, is_debounced, debounce_deadline_epoch_ms, authenticated_user,
           authenticated_roles, assumed_role, attributes::JSONB, %(now_ms)s, %(now_ms)s, trace_context
    FROM input
    ON CONFLICT DO NOTHING
    RETURNING workflow_uuid, status, queue_name
), wake AS (
    SELECT pg_notify(%(channel)s, 'q:' || q.queue_name)
    FROM (SELECT DISTINCT ins.queue_name FROM ins JOIN input i ON i.workflow_uuid = ins.workflow_uuid
          WHERE ins.status = 'ENQUEUED' AND i.notify) AS q
)
SELECT i.workflow_uuid, ins.workflow_uuid IS NOT NULL AS inserted,
       COALESCE(ins.status, ws.status) AS status, COALESCE(ws.name, i.name) AS name,
       ws.output, ws.error, (SELECT count(*) FROM wake) AS woke
FROM input i
LEFT JOIN ins ON ins.workflow_uuid = i.workflow_uuid
-- a probe of the primary key per row that was not inserted (LIMIT keeps it a parameterized
-- lookup: as a plain join, a plan made while the table was small hash-joined a scan of it)
LEFT JOIN LATERAL (SELECT w.status, w.name, w.output, w.error FROM workflow_status w
                   WHERE w.workflow_uuid = i.workflow_uuid AND ins.workflow_uuid IS NULL
                   LIMIT 1) ws ON TRUE
ORDER BY i.ord;

-- name: workflow_get
SELECT workflow_uuid, status, name, class_name, config_name, inputs, output, error,
       serialization, queue_name, priority, deduplication_id, executor_id, owner_token,
       owner_instance, application_version, application_name, recovery_attempts,
       max_recovery_attempts, workflow_timeout_ms, workflow_deadline_epoch_ms,
       delay_until_epoch_ms, parent_workflow_id, rate_limited, created_at, updated_at,
       started_at_epoch_ms, completed_at, authenticated_user, authenticated_roles, assumed_role,
       attributes, queue_partition_key, forked_from, was_forked_from
FROM workflow_status WHERE workflow_uuid = %(workflow_id)s;

-- name: workflow_get_outcome
SELECT status, output, error FROM workflow_status WHERE workflow_uuid = %(workflow_id)s;

-- name: workflow_first_finished
-- Of these workflows, the one that left ENQUEUED/PENDING/DELAYED first (DBOS.wait_first).
SELECT workflow_uuid FROM workflow_status
WHERE workflow_uuid = ANY(%(workflow_ids)s::TEXT[])
  AND status NOT IN ('ENQUEUED', 'PENDING', 'DELAYED')
ORDER BY completed_at NULLS LAST, updated_at
LIMIT 1;

-- name: workflow_complete_batch
-- Record the outcomes of several workflows in one statement (group commit), each only if its
-- execution still owns it and it is PENDING, together with each one's deferred last-step
-- checkpoint (if any, written even when the outcome is refused); wakes get_result waiters.
WITH input AS (
    SELECT * FROM unnest(%(workflow_ids)s::TEXT[], %(owner_tokens)s::TEXT[], %(statuses)s::TEXT[],
                         %(outputs)s::TEXT[], %(errors)s::TEXT[], %(step_ids)s::INTEGER[],
                         %(step_names)s::TEXT[], %(step_outputs)s::TEXT[], %(step_errors)s::TEXT[],
                         %(step_started)s::BIGINT[])
        AS t(workflow_uuid, owner_token, status, output, error, step_id, step_name,
             step_output, step_error, step_started)
), done AS (
    UPDATE workflow_status ws
    SET status = input.status, output = input.output, error = input.error,
        deduplication_id = NULL, completed_at = %(now_ms)s, updated_at = %(now_ms)s
    FROM input
    WHERE ws.workflow_uuid = input.workflow_uuid AND ws.owner_token = input.owner_token
      AND ws.status = 'PENDING'
    RETURNING ws.workflow_uuid
), steps AS (
    -- A completed step's record never depends on the outcome being accepted: it is written
    -- whenever this execution still owns the row, cancelled or not (the snapshot shows the
    -- status before `done`). Resuming a cancelled workflow then replays it.
    INSERT INTO operation_outputs (workflow_uuid, function_id, function_name, output, error,
                                   started_at_epoch_ms, completed_at_epoch_ms)
    SELECT i.workflow_uuid, i.step_id, i.step_name, i.step_output, i.step_error,
           i.step_started, %(now_ms)s
    FROM input i JOIN workflow_status ws
      ON ws.workflow_uuid = i.workflow_uuid AND ws.owner_token = i.owner_token
    WHERE i.step_id IS NOT NULL AND ws.status IN ('PENDING', 'CANCELLED')
    ON CONFLICT (workflow_uuid, function_id) DO NOTHING
)
SELECT pg_notify(%(channel)s || '_done', wake_key('c:', workflow_uuid)) FROM done;

-- name: workflow_claim_batch
-- Claim up to n runnable rows of unlimited queues, oldest first within priority, in one
-- committed statement. One LATERAL probe per queue walks (queue_name, priority, created_at) in
-- order and stops at n, whatever the planner's statistics say (a queue table's size swings too
-- fast for them; a plain `queue_name = ANY(...) ORDER BY` sorted the whole backlog on every
-- claim). The picked ids are handed on as arrays (`= ANY(ARRAY(...))`): the pool runs generic
-- plans, which do not know LIMIT n, and joining a subquery made the generic plan hash-join
-- against a sequential scan of the whole table (769 ms per claim at 1M ENQUEUED rows); an
-- array parameter is always probed through the primary key. Picked rows whose workflow name
-- this claimer does not know (`names`) are parked instead (see migration 8) and their names
-- announced on the `_parked` channel; they come back with parked = TRUE.
-- With few queues (the app's and the internal one) every queue may give n rows and the oldest
-- n across them are kept. With many (`spread`), the claimer walks the queues in the order it
-- passes (round robin: it starts each claim after the last queue the previous one took from,
-- and leaves out queues it found empty, worker/queuewalk.py), taking up to k rows from each
-- (k = n over the number of queues it expects work in), and the walk stops at n rows: a claim
-- probes about n / k queues however many there are. (Looking first at every queue's head to
-- take the oldest heads across queues cost one probe per queue on every claim: 1,000 busy
-- queues drained at 0.30 of one queue's rate.) DBOS orders each queue on its own; across
-- queues this is round robin, so a queue with an old backlog does not hold back the others.
-- The branches are gated by one-time filters; SKIP LOCKED walks past rows another claimer holds.
WITH picked AS MATERIALIZED (
    (SELECT c.workflow_uuid, c.name
     FROM unnest(%(queues)s::TEXT[]) AS q(name)
     CROSS JOIN LATERAL (
         SELECT workflow_uuid, name, priority, created_at FROM workflow_status
         WHERE status = 'ENQUEUED' AND NOT parked AND queue_name = q.name
         ORDER BY priority, created_at
         LIMIT %(n)s
         FOR UPDATE SKIP LOCKED
     ) AS c
     WHERE NOT %(spread)s::BOOLEAN
     ORDER BY c.priority, c.created_at
     LIMIT %(n)s)
    UNION ALL
    (SELECT c.workflow_uuid, c.name
     FROM unnest(%(queues)s::TEXT[]) AS q(name)
     CROSS JOIN LATERAL (
         SELECT workflow_uuid, name FROM workflow_status
         WHERE status = 'ENQUEUED' AND NOT parked AND queue_name = q.name
         ORDER BY priority, created_at
         LIMIT %(k)s
         FOR UPDATE SKIP LOCKED
     ) AS c
     WHERE %(spread)s::BOOLEAN
     LIMIT %(n)s)
), parked AS (
    UPDATE workflow_status ws SET parked = TRUE, updated_at = %(now_ms)s
    WHERE ws.workflow_uuid = ANY(ARRAY(
        SELECT workflow_uuid FROM picked WHERE name <> ALL(%(names)s::TEXT[])))
    RETURNING ws.workflow_uuid, ws.name, ws.queue_name
), announced AS (
    SELECT pg_notify(%(channel)s || '_parked', wake_key('p:', name))
    FROM (SELECT DISTINCT name FROM parked) AS names
), claimed AS (
    UPDATE workflow_status ws
    SET status = 'PENDING', executor_id = %(executor_id)s, owner_token = %(owner_token)s,
        owner_instance = %(owner_instance)s, recovery_attempts = ws.recovery_attempts + 1,
        started_at_epoch_ms = %(now_ms)s, updated_at = %(now_ms)s, parked = FALSE,
        workflow_deadline_epoch_ms = CASE
            WHEN ws.workflow_timeout_ms IS NOT NULL AND ws.workflow_deadline_epoch_ms IS NULL
            THEN %(now_ms)s + ws.workflow_timeout_ms ELSE ws.workflow_deadline_epoch_ms END
    WHERE ws.workflow_uuid = ANY(ARRAY(
        SELECT workflow_uuid FROM picked WHERE name = ANY(%(names)s::TEXT[])))
    RETURNING ws.workflow_uuid, ws.name, ws.class_name, ws.config_name, ws.inputs, ws.queue_name,
              ws.recovery_attempts, ws.max_recovery_attempts, ws.workflow_deadline_epoch_ms,
              EXISTS (SELECT 1 FROM operation_outputs oo WHERE oo.workflow_uuid = ws.workflow_uuid) AS has_steps,
              ws.queue_partition_key, ws.authenticated_user, ws.authenticated_roles, ws.assumed_role,
          ws.created_at, ws.started_at_epoch_ms, ws.trace_context
)
SELECT claimed.*, FALSE AS parked FROM claimed
UNION ALL
SELECT p.workflow_uuid, p.name, NULL, NULL, NULL, p.queue_name, 0, NULL, NULL, FALSE,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, TRUE
FROM parked p WHERE (SELECT count(*) FROM announced) >= 0;

-- name: workflow_claim_parked
-- Claim parked rows (see migration 8) of workflow names this claimer knows, on its queues:
-- one LATERAL probe per name through workflow_status_parked, oldest first within priority.
-- A row of a class instance (config_name set) only when the claimer knows that instance.
UPDATE workflow_status ws
SET status = 'PENDING', executor_id = %(executor_id)s, owner_token = %(owner_token)s,
    owner_instance = %(owner_instance)s, recovery_attempts = ws.recovery_attempts + 1,
    started_at_epoch_ms = %(now_ms)s, updated_at = %(now_ms)s, parked = FALSE,
    workflow_deadline_epoch_ms = CASE
        WHEN ws.workflow_timeout_ms IS NOT NULL AND ws.workflow_deadline_epoch_ms IS NULL
        THEN %(now_ms)s + ws.workflow_timeout_ms ELSE ws.workflow_deadline_epoch_ms END
WHERE ws.workflow_uuid = ANY(ARRAY(
    SELECT c.workflow_uuid
    FROM unnest(%(names)s::TEXT[]) AS w(name)
    CROSS JOIN LATERAL (
        SELECT workflow_uuid, priority, created_at FROM workflow_status
        WHERE status = 'ENQUEUED' AND parked AND name = w.name
          AND queue_name = ANY(%(queues)s::TEXT[])
          AND (config_name IS NULL OR class_name || '/' || config_name = ANY(%(instances)s::TEXT[]))
        ORDER BY priority, created_at
        LIMIT %(n)s
        FOR UPDATE SKIP LOCKED
    ) AS c
    ORDER BY c.priority, c.created_at
    LIMIT %(n)s
))
RETURNING ws.workflow_uuid, ws.name, ws.class_name, ws.config_name, ws.inputs, ws.queue_name,
          ws.recovery_attempts, ws.max_recovery_attempts, ws.workflow_deadline_epoch_ms,
          EXISTS (SELECT 1 FROM operation_outputs oo WHERE oo.workflow_uuid = ws.workflow_uuid) AS has_steps,
              ws.queue_partition_key, ws.authenticated_user, ws.authenticated_roles, ws.assumed_role,
          ws.created_at, ws.started_at_epoch_ms, ws.trace_context;

-- name: workflow_claim_limited
-- Claim from one queue with a global concurrency and/or rate limit. Run inside a transaction
-- holding queue_claim_lock, so every claimer counts the same committed rows. Rows of names this
-- claimer does not know are skipped (not parked: a limited queue is claimed within a budget),
-- and so are rows of class instances it does not have (config_name set, see classes.py).
UPDATE workflow_status ws
SET status = 'PENDING', executor_id = %(executor_id)s, owner_token = %(owner_token)s,
    owner_instance = %(owner_instance)s, recovery_attempts = ws.recovery_attempts + 1,
    started_at_epoch_ms = %(now_ms)s, updated_at = %(now_ms)s, rate_limited = %(rate_limited)s,
    workflow_deadline_epoch_ms = CASE
        WHEN ws.workflow_timeout_ms IS NOT NULL AND ws.workflow_deadline_epoch_ms IS NULL
        THEN %(now_ms)s + ws.workflow_timeout_ms ELSE ws.workflow_deadline_epoch_ms END
WHERE ws.workflow_uuid = ANY(ARRAY(
    SELECT workflow_uuid FROM workflow_status
    WHERE status = 'ENQUEUED' AND NOT parked AND queue_name = %(queue)s
      AND name = ANY(%(names)s::TEXT[])
      AND (config_name IS NULL OR class_name || '/' || config_name = ANY(%(instances)s::TEXT[]))
    ORDER BY priority, created_at
    LIMIT GREATEST(0, LEAST(
        %(n)s::BIGINT,
        COALESCE(%(concurrency)s::BIGINT - (SELECT count(*) FROM workflow_status
            WHERE status = 'PENDING' AND queue_name = %(queue)s), %(n)s::BIGINT),
        COALESCE(%(rate_limit)s::BIGINT - (SELECT count(*) FROM workflow_status
            WHERE rate_limited AND queue_name = %(queue)s
              AND started_at_epoch_ms > %(now_ms)s - %(rate_period_ms)s::BIGINT), %(n)s::BIGINT)))
    FOR UPDATE SKIP LOCKED
))
RETURNING ws.workflow_uuid, ws.name, ws.class_name, ws.config_name, ws.inputs, ws.queue_name,
          ws.recovery_attempts, ws.max_recovery_attempts, ws.workflow_deadline_epoch_ms,
          EXISTS (SELECT 1 FROM operation_outputs oo WHERE oo.workflow_uuid = ws.workflow_uuid) AS has_steps,
              ws.queue_partition_key, ws.authenticated_user, ws.authenticated_roles, ws.assumed_role,
          ws.created_at, ws.started_at_epoch_ms, ws.trace_context;

-- name: workflow_claim_partitioned
-- Claim from a partitioned queue: partition_* limits apply per queue_partition_key, the
-- queue-wide ones to the queue as a whole. Run inside a transaction holding queue_claim_lock.
-- The keys with runnable rows are found by a loose index scan (one probe per key through
-- workflow_status_partitions); each key then yields at most its room, oldest first, and the
-- queue-wide budget takes the oldest of those. `held_*` carry this process's in-flight count
-- per key (partition_worker_concurrency is per process).
WITH RECURSIVE keys AS (
    (SELECT queue_partition_key AS k FROM workflow_status
     WHERE status = 'ENQUEUED' AND NOT parked AND queue_name = %(queue)s
       AND queue_partition_key IS NOT NULL
     ORDER BY queue_partition_key LIMIT 1)
    UNION ALL
    SELECT (SELECT queue_partition_key FROM workflow_status
            WHERE status = 'ENQUEUED' AND NOT parked AND queue_name = %(queue)s
              AND queue_partition_key > keys.k
            ORDER BY queue_partition_key LIMIT 1)
    FROM keys WHERE keys.k IS NOT NULL
), room AS (
    SELECT keys.k, LEAST(%(n)s::BIGINT,
        COALESCE(%(partition_concurrency)s::BIGINT - (SELECT count(*) FROM workflow_status
            WHERE status = 'PENDING' AND queue_name = %(queue)s AND queue_partition_key = keys.k),
            %(n)s::BIGINT),
        COALESCE(%(partition_rate_limit)s::BIGINT - (SELECT count(*) FROM workflow_status
            WHERE rate_limited AND queue_name = %(queue)s AND queue_partition_key = keys.k
              AND started_at_epoch_ms > %(now_ms)s - %(partition_rate_period_ms)s::BIGINT),
            %(n)s::BIGINT),
        COALESCE(%(partition_worker_concurrency)s::BIGINT - COALESCE((SELECT h.n FROM
            unnest(%(held_keys)s::TEXT[], %(held_counts)s::BIGINT[]) AS h(k, n) WHERE h.k = keys.k), 0),
            %(n)s::BIGINT)) AS n
    FROM keys WHERE keys.k IS NOT NULL
), budget AS (
    SELECT GREATEST(0, LEAST(%(n)s::BIGINT,
        COALESCE(%(concurrency)s::BIGINT - (SELECT count(*) FROM workflow_status
            WHERE status = 'PENDING' AND queue_name = %(queue)s), %(n)s::BIGINT),
        COALESCE(%(rate_limit)s::BIGINT - (SELECT count(*) FROM workflow_status
            WHERE rate_limited AND queue_name = %(queue)s
              AND started_at_epoch_ms > %(now_ms)s - %(rate_period_ms)s::BIGINT), %(n)s::BIGINT))) AS n
)
UPDATE workflow_status ws
SET status = 'PENDING', executor_id = %(executor_id)s, owner_token = %(owner_token)s,
    owner_instance = %(owner_instance)s, recovery_attempts = ws.recovery_attempts + 1,
    started_at_epoch_ms = %(now_ms)s, updated_at = %(now_ms)s, rate_limited = %(rate_limited)s,
    workflow_deadline_epoch_ms = CASE
        WHEN ws.workflow_timeout_ms IS NOT NULL AND ws.workflow_deadline_epoch_ms IS NULL
        THEN %(now_ms)s + ws.workflow_timeout_ms ELSE ws.workflow_deadline_epoch_ms END
WHERE ws.workflow_uuid = ANY(ARRAY(
    SELECT c.workflow_uuid
    FROM room CROSS JOIN LATERAL (
        SELECT workflow_uuid, priority, created_at FROM workflow_status
        WHERE status = 'ENQUEUED' AND NOT parked AND queue_name = %(queue)s
          AND queue_partition_key = room.k AND name = ANY(%(names)s::TEXT[])
        ORDER BY priority, created_at
        LIMIT GREATEST(0, room.n)
        FOR UPDATE SKIP LOCKED
    ) AS c
    ORDER BY c.priority, c.created_at
    LIMIT (SELECT n FROM budget)
))
RETURNING ws.workflow_uuid, ws.name, ws.class_name, ws.config_name, ws.inputs, ws.queue_name,
          ws.recovery_attempts, ws.max_recovery_attempts, ws.workflow_deadline_epoch_ms,
          EXISTS (SELECT 1 FROM operation_outputs oo WHERE oo.workflow_uuid = ws.workflow_uuid) AS has_steps,
          ws.queue_partition_key, ws.authenticated_user, ws.authenticated_roles, ws.assumed_role,
          ws.created_at, ws.started_at_epoch_ms, ws.trace_context;

-- name: queue_claim_lock
SELECT pg_advisory_xact_lock(%(key)s);

-- name: workflow_takeover
-- Take over one PENDING workflow whose previous execution is known dead.
UPDATE workflow_status
SET owner_token = %(owner_token)s, owner_instance = %(owner_instance)s,
    executor_id = %(executor_id)s, recovery_attempts = recovery_attempts + 1,
    updated_at = %(now_ms)s
WHERE workflow_uuid = %(workflow_id)s AND status = 'PENDING'
  AND owner_token IS NOT DISTINCT FROM %(previous_token)s
RETURNING workflow_uuid, name, class_name, config_name, inputs, queue_name,
          recovery_attempts, max_recovery_attempts, workflow_deadline_epoch_ms, TRUE AS has_steps,
          queue_partition_key, authenticated_user, authenticated_roles, assumed_role,
          created_at, started_at_epoch_ms, trace_context;

-- name: workflow_pending_of_executor
-- PENDING rows held by an executor id, with the instance that holds each and how long (on the
-- database's clock) that instance has been silent.
SELECT ws.workflow_uuid, ws.owner_token, ws.owner_instance, ws.queue_name,
       ex.host, ex.pid, ex.proc_start_ticks, ex.boot_id, ex.stopped_at,
       db_now_ms() - ex.heartbeat_at AS silent_ms
FROM workflow_status ws
LEFT JOIN executors ex ON ex.instance_id = ws.owner_instance
WHERE ws.status = 'PENDING' AND ws.executor_id = %(executor_id)s;

-- name: workflow_requeue
-- Hand PENDING rows back to their queue (drain, or a dead holder's work). A drain hands back
-- without burning an attempt (refund = 1). Only while the row is still held as the caller saw
-- it: by that owner token (a dead holder's work: an element may be NULL, no check), and by
-- owner_instance when given (a process handing back its own work). Requeueing by id alone
-- let a late requeue undo a claim made meanwhile by another host, and two hosts ran the
-- workflow (the randomized fault schedule: a leader's requeue and a respawned worker's
-- recovery of the same row, 8 ms apart).
WITH target AS (
    SELECT * FROM unnest(%(workflow_ids)s::TEXT[], %(owner_tokens)s::TEXT[]) AS t(workflow_uuid, owner_token)
), moved AS (
    UPDATE workflow_status ws
    SET status = 'ENQUEUED', owner_token = NULL, owner_instance = NULL, parked = FALSE,
        recovery_attempts = GREATEST(0, ws.recovery_attempts - %(refund)s),
        queue_name = COALESCE(ws.queue_name, %(default_queue)s), updated_at = %(now_ms)s
    FROM target t
    WHERE ws.workflow_uuid = t.workflow_uuid AND ws.status = 'PENDING'
      AND (t.owner_token IS NULL OR ws.owner_token = t.owner_token)
      AND (%(owner_instance)s::TEXT IS NULL OR ws.owner_instance = %(owner_instance)s::TEXT)
    RETURNING ws.queue_name
)
SELECT pg_notify(%(channel)s, 'q:' || queue_name), queue_name, moved
FROM (SELECT queue_name, count(*) AS moved FROM moved GROUP BY queue_name) AS queues;

-- name: workflow_owner
-- Who holds a workflow now (an execution re-checks after its lease may have lapsed).
SELECT status, owner_token FROM workflow_status WHERE workflow_uuid = %(workflow_id)s;

-- name: workflow_dead_letter
WITH dead AS (
    UPDATE workflow_status
    SET status = 'MAX_RECOVERY_ATTEMPTS_EXCEEDED', deduplication_id = NULL,
        updated_at = %(now_ms)s, completed_at = %(now_ms)s
    WHERE workflow_uuid = %(workflow_id)s AND owner_token = %(owner_token)s AND status = 'PENDING'
    RETURNING workflow_uuid
)
SELECT pg_notify(%(channel)s || '_done', wake_key('c:', workflow_uuid)) FROM dead;

-- name: workflow_cancel
-- Cancel workflows that have not finished: their dedup ids are freed, waiters and the runner
-- (at its next step) are told. Finished ones are left as they are.
WITH cancelled AS (
    UPDATE workflow_status
    SET status = 'CANCELLED', deduplication_id = NULL, updated_at = %(now_ms)s,
        completed_at = %(now_ms)s
    WHERE workflow_uuid = ANY(%(workflow_ids)s::TEXT[])
      AND status NOT IN ('SUCCESS', 'ERROR', 'CANCELLED')
    RETURNING workflow_uuid
)
SELECT pg_notify(%(channel)s || '_done', wake_key('c:', workflow_uuid)),
       pg_notify(%(channel)s || '_cancel', wake_key('x:', workflow_uuid))
FROM cancelled;

-- name: workflow_resume
-- Resume workflows that have not finished: back to ENQUEUED with their attempts and deadline
-- reset, on `queue_name` if given, else their own queue, else the internal one.
WITH resumed AS (
    UPDATE workflow_status
    SET status = 'ENQUEUED', owner_token = NULL, owner_instance = NULL, recovery_attempts = 0,
        parked = FALSE,
        queue_name = COALESCE(%(queue_name)s, queue_name, %(default_queue)s),
        workflow_deadline_epoch_ms = NULL, completed_at = NULL, updated_at = %(now_ms)s
    WHERE workflow_uuid = ANY(%(workflow_ids)s::TEXT[]) AND status NOT IN ('SUCCESS', 'ERROR')
    RETURNING queue_name
)
SELECT pg_notify(%(channel)s, 'q:' || queue_name) FROM (SELECT DISTINCT queue_name FROM resumed) AS q;

-- name: workflow_cancel_expired
-- Cancel active workflows past their deadline, in a bounded batch.
WITH expired AS (
    UPDATE workflow_status
    SET status = 'CANCELLED', deduplication_id = NULL, updated_at = %(now_ms)s,
        completed_at = %(now_ms)s
    WHERE workflow_uuid IN (
        SELECT workflow_uuid FROM workflow_status
        WHERE workflow_deadline_epoch_ms IS NOT NULL
          AND status IN ('ENQUEUED', 'PENDING', 'DELAYED')
          AND workflow_deadline_epoch_ms <= %(now_ms)s
        ORDER BY workflow_deadline_epoch_ms LIMIT %(n)s FOR UPDATE SKIP LOCKED)
    RETURNING workflow_uuid
)
SELECT pg_notify(%(channel)s || '_done', wake_key('c:', workflow_uuid)),
       pg_notify(%(channel)s || '_cancel', wake_key('x:', workflow_uuid)), workflow_uuid
FROM expired;

-- name: workflow_pending_of_instance
SELECT workflow_uuid FROM workflow_status
WHERE status = 'PENDING' AND executor_id = %(executor_id)s AND owner_instance = %(instance_id)s;

-- name: workflow_deduplicated_holder
-- The workflow holding a deduplication id on a queue (duplication_policy "return-existing").
SELECT workflow_uuid FROM workflow_status
WHERE queue_name = %(queue_name)s AND deduplication_id = %(deduplication_id)s;

-- name: workflow_park
-- A claimed row this process cannot run (its class instance is registered elsewhere, see
-- classes.py): back to ENQUEUED, parked (see migration 8) without burning an attempt, and its
-- name announced so a process that knows the instance claims it.
WITH moved AS (
    UPDATE workflow_status
    SET status = 'ENQUEUED', owner_token = NULL, owner_instance = NULL, parked = TRUE,
        recovery_attempts = GREATEST(0, recovery_attempts - 1),
        queue_name = COALESCE(queue_name, %(default_queue)s), updated_at = %(now_ms)s
    WHERE workflow_uuid = %(workflow_id)s AND owner_token = %(owner_token)s AND status = 'PENDING'
    RETURNING name
)
SELECT pg_notify(%(channel)s || '_parked', wake_key('p:', name)) FROM moved;

-- name: workflow_claim_named
-- The async lane's claim (aio/lane.py): up to n runnable rows of unlimited queues whose
-- workflow name is one of `names` (the async workflows this process runs), oldest first
-- within priority, in one committed statement; with include = FALSE, rows whose name is
-- NOT one of them (the thread lane while the loop is full). Rows skipped are never parked.
-- The name filter sits inside the index walk: with no row of these names near the head, a
-- claim reads the queue's backlog of the other kind, so the lane backs off for 0.5 s after a
-- claim that found nothing (aio/lane.py). A bounded window looked at without locks cost the
-- async burn-down half its rate (two workers took turns on the same candidates).
WITH picked AS MATERIALIZED (
    SELECT c.workflow_uuid
    FROM unnest(%(queues)s::TEXT[]) AS q(name)
    CROSS JOIN LATERAL (
        SELECT workflow_uuid, priority, created_at FROM workflow_status
        WHERE status = 'ENQUEUED' AND NOT parked AND queue_name = q.name
          AND (name = ANY(%(names)s::TEXT[])) = %(include)s
        ORDER BY priority, created_at
        LIMIT %(n)s
        FOR UPDATE SKIP LOCKED
    ) AS c
    ORDER BY c.priority, c.created_at
    LIMIT %(n)s
)
UPDATE workflow_status ws
SET status = 'PENDING', executor_id = %(executor_id)s, owner_token = %(owner_token)s,
    owner_instance = %(owner_instance)s, recovery_attempts = ws.recovery_attempts + 1,
    started_at_epoch_ms = %(now_ms)s, updated_at = %(now_ms)s, parked = FALSE,
    workflow_deadline_epoch_ms = CASE
        WHEN ws.workflow_timeout_ms IS NOT NULL AND ws.workflow_deadline_epoch_ms IS NULL
        THEN %(now_ms)s + ws.workflow_timeout_ms ELSE ws.workflow_deadline_epoch_ms END
WHERE ws.workflow_uuid = ANY(ARRAY(SELECT workflow_uuid FROM picked))
RETURNING ws.workflow_uuid, ws.name, ws.class_name, ws.config_name, ws.inputs, ws.queue_name,
          ws.recovery_attempts, ws.max_recovery_attempts, ws.workflow_deadline_epoch_ms,
          EXISTS (SELECT 1 FROM operation_outputs oo WHERE oo.workflow_uuid = ws.workflow_uuid) AS has_steps,
          ws.queue_partition_key, ws.authenticated_user, ws.authenticated_roles, ws.assumed_role,
          ws.created_at, ws.started_at_epoch_ms, ws.trace_context;

-- DBOS 3.x queues live in the database: DBOS.register_queue writes the row, every process of
-- the application serves every queue of it (re-read on a `Q:` wake-up and on a slow poll), and
-- Queue.set_* changes limits for all of them at once. Partitioned queues apply their limits per
-- queue_partition_key. application_versions says which version of an application is the latest
-- (register_queue's default on_conflict updates a queue only from the latest version).
ALTER TABLE queues
    ADD COLUMN application_name               TEXT,
    ADD COLUMN database_backed                BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN partition_concurrency          INTEGER,
    ADD COLUMN partition_worker_concurrency   INTEGER,
    ADD COLUMN partition_rate_limit_max       INTEGER,
    ADD COLUMN partition_rate_limit_period_sec DOUBLE PRECISION,
    ADD COLUMN created_at                     BIGINT;

ALTER TABLE workflow_status ADD COLUMN queue_partition_key TEXT;
CREATE INDEX workflow_status_partitions
    ON workflow_status (queue_name, queue_partition_key, priority, created_at)
    WHERE status = 'ENQUEUED' AND NOT parked AND queue_partition_key IS NOT NULL;

CREATE TABLE application_versions (
    application_name TEXT NOT NULL,
    version          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (application_name, version)
);

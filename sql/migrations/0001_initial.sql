-- dbos-workers system schema, version 1. Runs with search_path set to the system schema.
-- Timestamps are epoch milliseconds.

CREATE TABLE workflow_status (
    workflow_uuid              TEXT PRIMARY KEY,
    status                     TEXT NOT NULL,
    name                       TEXT NOT NULL,
    class_name                 TEXT,
    config_name                TEXT,
    inputs                     TEXT,
    output                     TEXT,
    error                      TEXT,
    serialization              TEXT NOT NULL DEFAULT 'py_pickle',
    queue_name                 TEXT,
    priority                   INTEGER NOT NULL DEFAULT 0,
    deduplication_id           TEXT,
    executor_id                TEXT,
    owner_token                TEXT,
    owner_instance             TEXT,
    application_version        TEXT,
    application_name           TEXT,
    recovery_attempts          INTEGER NOT NULL DEFAULT 0,
    max_recovery_attempts      INTEGER,
    workflow_timeout_ms        BIGINT,
    workflow_deadline_epoch_ms BIGINT,
    delay_until_epoch_ms       BIGINT,
    parent_workflow_id         TEXT,
    rate_limited               BOOLEAN NOT NULL DEFAULT FALSE,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL,
    started_at_epoch_ms        BIGINT,
    completed_at               BIGINT,
    CONSTRAINT workflow_status_status_check CHECK (status IN
        ('ENQUEUED', 'DELAYED', 'PENDING', 'SUCCESS', 'ERROR', 'CANCELLED',
         'MAX_RECOVERY_ATTEMPTS_EXCEEDED'))
);

-- Exactly the runnable rows: what a claim scans.
CREATE INDEX workflow_status_runnable
    ON workflow_status (queue_name, priority, created_at) WHERE status = 'ENQUEUED';
-- Running rows (small: bounded by the pool's threads), for recovery and drain by executor
-- and for a queue's global concurrency count. Every status change is a non-HOT update, so
-- each index here costs an entry per claim or completion: keep them few.
CREATE INDEX workflow_status_pending
    ON workflow_status (executor_id, queue_name) WHERE status = 'PENDING';
CREATE INDEX workflow_status_rate_limited
    ON workflow_status (queue_name, started_at_epoch_ms) WHERE rate_limited;
CREATE INDEX workflow_status_delayed
    ON workflow_status (delay_until_epoch_ms) WHERE status = 'DELAYED';
CREATE INDEX workflow_status_deadline
    ON workflow_status (workflow_deadline_epoch_ms)
    WHERE workflow_deadline_epoch_ms IS NOT NULL AND status IN ('ENQUEUED', 'PENDING', 'DELAYED');
-- Rows arrive in time order: a BRIN index serves time-range listing at almost no write cost.
CREATE INDEX workflow_status_created_at ON workflow_status USING brin (created_at);
CREATE UNIQUE INDEX workflow_status_deduplication
    ON workflow_status (queue_name, deduplication_id) WHERE deduplication_id IS NOT NULL;

CREATE TABLE operation_outputs (
    workflow_uuid         TEXT NOT NULL,
    function_id           INTEGER NOT NULL,
    function_name         TEXT NOT NULL,
    output                TEXT,
    error                 TEXT,
    child_workflow_id     TEXT,
    started_at_epoch_ms   BIGINT,
    completed_at_epoch_ms BIGINT NOT NULL,
    PRIMARY KEY (workflow_uuid, function_id)
);

CREATE TABLE notifications (
    message_uuid        TEXT PRIMARY KEY,
    destination_uuid    TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    topic               TEXT NOT NULL,
    message             TEXT NOT NULL,
    seq                 BIGSERIAL,
    created_at_epoch_ms BIGINT NOT NULL,
    consumed            BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX notifications_unconsumed
    ON notifications (destination_uuid, topic, seq) WHERE NOT consumed;

CREATE TABLE workflow_events (
    workflow_uuid TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (workflow_uuid, key)
);

-- The lease table: one row per process instance (app process, each worker).
CREATE TABLE executors (
    instance_id  TEXT PRIMARY KEY,
    executor_id  TEXT NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    role         TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    stopped_at   BIGINT
);
CREATE INDEX executors_executor_id ON executors (executor_id);

CREATE TABLE queues (
    name                  TEXT PRIMARY KEY,
    concurrency           INTEGER,
    worker_concurrency    INTEGER,
    rate_limit_max        INTEGER,
    rate_limit_period_sec DOUBLE PRECISION,
    priority_enabled      BOOLEAN NOT NULL DEFAULT FALSE,
    polling_interval_sec  DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    updated_at            BIGINT NOT NULL
);

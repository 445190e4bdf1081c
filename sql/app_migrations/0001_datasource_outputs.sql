-- dbos-workers application-database schema, version 1: the checkpoints of transactions.
-- A transaction's effects and its row here commit together, so a position of a workflow
-- (workflow_id, step_id) commits at most once. {schema} is the datasource's schema, quoted.
-- Timestamps are epoch milliseconds.

CREATE TABLE IF NOT EXISTS {schema}.datasource_outputs (
    workflow_id   TEXT NOT NULL,
    step_id       INTEGER NOT NULL,
    function_name TEXT NOT NULL,
    output        TEXT,
    error         TEXT,
    serialization TEXT,
    created_at    BIGINT NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT,
    PRIMARY KEY (workflow_id, step_id)
);

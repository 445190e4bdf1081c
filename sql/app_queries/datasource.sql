-- Named queries on an application database (SQLAlchemy text: `:name` binds). {schema} is the
-- datasource's schema, quoted by the dialect.

-- name: datasource_output_get
-- The recorded outcome of one position of a workflow (the replay pre-check, autocommit).
SELECT function_name, output, error, serialization FROM {schema}.datasource_outputs
WHERE workflow_id = :workflow_id AND step_id = :step_id;

-- name: datasource_output_insert
-- Inside the transaction, after the function ran: no row back means another execution
-- recorded this position first (the caller rolls back and replays that row).
INSERT INTO {schema}.datasource_outputs (workflow_id, step_id, function_name, output, error,
                                         serialization)
VALUES (:workflow_id, :step_id, :function_name, :output, :error, :serialization)
ON CONFLICT (workflow_id, step_id) DO NOTHING
RETURNING step_id;

-- name: datasource_outputs_delete
-- Forget the checkpoints of workflows deleted from the system database (retention).
DELETE FROM {schema}.datasource_outputs WHERE workflow_id = ANY(:workflow_ids);

-- name: datasource_migrations_present
-- Whether the bookkeeping table exists (:table is its schema-qualified, quoted name).
SELECT to_regclass(:table) IS NOT NULL AS present;

-- name: datasource_migrations_lock
-- Serializes migrators of one schema until their transaction ends.
SELECT pg_advisory_xact_lock(:key);

-- name: datasource_schema_exists
SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = :schema;

-- name: datasource_schema_create
CREATE SCHEMA IF NOT EXISTS {schema};

-- name: datasource_migrations_bootstrap
CREATE TABLE IF NOT EXISTS {schema}.datasource_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
);

-- name: datasource_migrations_applied
SELECT version FROM {schema}.datasource_migrations ORDER BY version;

-- name: datasource_migrations_record
INSERT INTO {schema}.datasource_migrations (version, name, applied_at)
VALUES (:version, :name, :now_ms);

-- name: migrations_applied
SELECT version FROM migrations ORDER BY version;

-- name: migrations_record
INSERT INTO migrations (version, name, applied_at) VALUES (%(version)s, %(name)s, %(now_ms)s);

-- name: migrations_create_schema
CREATE SCHEMA IF NOT EXISTS {schema};

-- name: migrations_set_search_path
SET search_path TO {schema};

-- name: migrations_bootstrap
CREATE TABLE IF NOT EXISTS migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
);

-- name: migrations_lock
SELECT pg_advisory_lock(%(key)s);

-- name: migrations_unlock
SELECT pg_advisory_unlock(%(key)s);

-- name: database_exists
SELECT 1 FROM pg_database WHERE datname = %(name)s;

-- name: database_create
CREATE DATABASE {database};

-- name: schema_drop
DROP SCHEMA IF EXISTS {schema} CASCADE;

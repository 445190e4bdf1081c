-- Probes of `dbos-workers start` (service/health.py): one short-lived connection per probe.

-- name: health_schema_version
SELECT coalesce(max(version), 0) AS version FROM {schema}.migrations;

-- name: health_pool_status
-- Workflows running on this host's worker slots (executor ids "<executor>/<slot>") and the
-- executor id of the current leader, for systemd's STATUS= line.
SELECT
    (SELECT count(*) FROM {schema}.workflow_status
      WHERE status = 'PENDING' AND executor_id LIKE %(slots)s) AS in_flight,
    (SELECT executor_id FROM {schema}.leader ORDER BY elected_at DESC LIMIT 1) AS leader;

-- Retention: finished workflows by completion time, and stopped executor instances.
CREATE INDEX workflow_status_completed_at
    ON workflow_status (completed_at)
    WHERE status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED');
CREATE INDEX executors_stopped_at ON executors (stopped_at) WHERE stopped_at IS NOT NULL;

-- Retention: finished workflows by completion time, and stopped executor instances.
-- BRIN, not btree: every completion would otherwise add an index entry.
CREATE INDEX workflow_status_completed_at ON workflow_status USING brin (completed_at);
CREATE INDEX executors_stopped_at ON executors (stopped_at) WHERE stopped_at IS NOT NULL;

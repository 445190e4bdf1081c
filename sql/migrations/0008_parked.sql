-- Workflows registered after launch, and names no running process knows. A claimer never
-- claims, bounces or fails a workflow whose name it does not know: when one reaches the head
-- of a queue it is *parked* (still ENQUEUED, out of the runnable index), so it costs later
-- claims nothing, and it waits, visibly, for a process that knows the name; such a process
-- claims parked rows of its names through workflow_status_parked (woken by `p:<name>` on the
-- `_parked` channel, and on a slow poll). Any move back to ENQUEUED clears the flag.
ALTER TABLE workflow_status ADD COLUMN parked BOOLEAN NOT NULL DEFAULT FALSE;

DROP INDEX workflow_status_runnable;
CREATE INDEX workflow_status_runnable
    ON workflow_status (queue_name, priority, created_at) WHERE status = 'ENQUEUED' AND NOT parked;
CREATE INDEX workflow_status_parked
    ON workflow_status (name, priority, created_at) WHERE status = 'ENQUEUED' AND parked;

-- What DBOS records with a workflow that dbos-workers did not: who started it (the
-- authenticated user, the roles granted to them as JSON text, and the role assumed, restored
-- when the workflow is recovered or dequeued), the attributes of SetWorkflowAttributes, and the
-- partition key of SetEnqueueOptions(queue_partition_key=...). Column names and types follow
-- DBOS's workflow_status. Nullable and unindexed: a claim or completion writes none of them, so
-- they cost the hot path nothing (a NULL takes no space in the row). IF NOT EXISTS: another
-- migration may add queue_partition_key first (partitioned queues).
ALTER TABLE workflow_status ADD COLUMN IF NOT EXISTS authenticated_user TEXT;
ALTER TABLE workflow_status ADD COLUMN IF NOT EXISTS authenticated_roles TEXT;
ALTER TABLE workflow_status ADD COLUMN IF NOT EXISTS assumed_role TEXT;
ALTER TABLE workflow_status ADD COLUMN IF NOT EXISTS attributes JSONB;
ALTER TABLE workflow_status ADD COLUMN IF NOT EXISTS queue_partition_key TEXT;

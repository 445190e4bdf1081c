-- Management (issue 13). Lineage of forks, as DBOS names it: forked_from on the fork,
-- was_forked_from on the original. Nullable / default FALSE: a claim or completion writes
-- neither, so the hot path is unchanged.
ALTER TABLE workflow_status ADD COLUMN IF NOT EXISTS forked_from TEXT;
ALTER TABLE workflow_status ADD COLUMN IF NOT EXISTS was_forked_from BOOLEAN NOT NULL DEFAULT FALSE;
-- list_workflows orders by created_at (either way) and stops at LIMIT: the newest 50 of ten
-- million rows must come off an index in order, not a sort of the table (the BRIN index of
-- migration 1 serves time ranges, not order). workflow_uuid breaks ties so pages are stable.
-- This is the one index a status change maintains for listing's sake (non-HOT updates).
CREATE INDEX IF NOT EXISTS workflow_status_created_order
    ON workflow_status (created_at, workflow_uuid);
-- Forks of a workflow, by origin (rare: a partial index costs rows without a fork nothing).
CREATE INDEX IF NOT EXISTS workflow_status_forked_from
    ON workflow_status (forked_from) WHERE forked_from IS NOT NULL;

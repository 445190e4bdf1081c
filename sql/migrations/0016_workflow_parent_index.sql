-- Children by parent (cancel_workflows(cancel_children=True), delete_workflows(delete_children=True),
-- and listing a workflow's children), without scanning the table.
CREATE INDEX workflow_status_parent ON workflow_status (parent_workflow_id)
    WHERE parent_workflow_id IS NOT NULL;

-- Schedules shaped as DBOS returns them: a stable schedule_id (kept across apply_schedules
-- upserts), the workflow's class, the owning application; and resumed_at, so resuming a
-- paused schedule restarts its clock without rewriting last_fired_at (the last tick fired).
ALTER TABLE workflow_schedules
    ADD COLUMN schedule_id         TEXT NOT NULL DEFAULT gen_random_uuid()::TEXT,
    ADD COLUMN workflow_class_name TEXT,
    ADD COLUMN application_name    TEXT,
    ADD COLUMN resumed_at          BIGINT;

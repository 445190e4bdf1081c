-- DBOS 3.x schedules (create/list/pause/resume/delete): stored definitions beside the ones
-- declared with @DBOS.scheduled (kind 'decorator').
ALTER TABLE workflow_schedules
    ADD COLUMN status             TEXT NOT NULL DEFAULT 'ACTIVE',
    ADD COLUMN kind               TEXT NOT NULL DEFAULT 'decorator',
    ADD COLUMN context            TEXT,
    ADD COLUMN automatic_backfill BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN cron_timezone      TEXT,
    ADD COLUMN queue_name         TEXT,
    ADD COLUMN created_at         BIGINT,
    ADD CONSTRAINT workflow_schedules_status_check CHECK (status IN ('ACTIVE', 'PAUSED'));

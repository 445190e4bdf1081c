-- Debounced workflow starts (Debouncer): a debounced workflow waits DELAYED under its
-- deduplication id (the debounce key); each new debounce of that key pushes its delay later
-- (capped at debounce_deadline_epoch_ms) and replaces its inputs. When it becomes due, the
-- promotion to ENQUEUED clears its deduplication id, so the next debounce starts afresh.
-- Constant defaults: metadata-only changes, no table rewrite.
ALTER TABLE workflow_status
    ADD COLUMN is_debounced               BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN debounce_deadline_epoch_ms BIGINT;

-- Streams (DBOS.write_stream / close_stream / read_stream): append-only values per
-- (workflow, key), ordered by offset. A NULL value is the close marker (a stream ends at its
-- first one). function_id is the operation that wrote the value (a workflow's writeStream or
-- closeStream, or the step that wrote it). Rows go with their workflow (retention, delete).
CREATE TABLE streams (
    workflow_uuid TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    "offset"      INTEGER NOT NULL,
    value         TEXT,
    serialization TEXT,
    function_id   INTEGER NOT NULL,
    PRIMARY KEY (workflow_uuid, key, "offset")
);

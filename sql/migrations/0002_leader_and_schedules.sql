-- Who leads (one row per election key), and the last tick fired per schedule.

CREATE TABLE leader (
    election_key BIGINT PRIMARY KEY,
    instance_id  TEXT NOT NULL,
    executor_id  TEXT NOT NULL,
    elected_at   BIGINT NOT NULL
);

CREATE TABLE workflow_schedules (
    schedule_name TEXT PRIMARY KEY,
    workflow_name TEXT NOT NULL,
    schedule      TEXT NOT NULL,
    last_fired_at BIGINT
);

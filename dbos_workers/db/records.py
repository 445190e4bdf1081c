"""What the system database hands back and takes in, as typed records (no dict rows above
db/). Field names follow DBOS's vocabulary; the column each comes from is named where it
differs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class NewWorkflow:
    """A workflow row to insert (start, enqueue, child, cron tick)."""

    workflow_id: str
    status: str  # PENDING (runs here), ENQUEUED or DELAYED
    name: str
    class_name: str | None
    config_name: str | None
    inputs: str
    serialization: str
    queue_name: str | None
    priority: int
    deduplication_id: str | None
    executor_id: str | None
    owner_token: str | None
    owner_instance: str | None
    application_version: str | None
    application_name: str
    recovery_attempts: int
    max_recovery_attempts: int | None
    timeout_ms: int | None
    deadline_ms: int | None
    delay_until_ms: int | None
    parent_workflow_id: str | None
    started_at_ms: int | None
    # Who started it (authenticated_roles is JSON text, as DBOS), its attributes (JSON text)
    # and its partition key.
    authenticated_user: str | None = None
    authenticated_roles: str | None = None
    assumed_role: str | None = None
    attributes: str | None = None
    queue_partition_key: str | None = None
    is_debounced: bool = False  # a Debouncer's DELAYED row (see migration 11)
    debounce_deadline_ms: int | None = None
    trace_context: str | None = None  # W3C traceparent of the enqueue span (tracing.py)


@dataclass(frozen=True, slots=True)
class Inserted:
    """The row as it stands after an insert: new (inserted) or the existing one."""

    inserted: bool
    status: str
    name: str
    output: str | None
    error: str | None
    class_name: str | None = None
    config_name: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    output: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ClaimedWorkflow:
    """A row this execution now owns (claimed, taken over): what running it needs."""

    workflow_id: str
    owner_token: str
    name: str
    class_name: str | None
    config_name: str | None
    inputs: str | None
    queue_name: str | None
    recovery_attempts: int
    max_recovery_attempts: int | None
    deadline_ms: int | None
    has_steps: bool
    partition_key: str | None = None
    authenticated_user: str | None = None
    authenticated_roles: str | None = None  # JSON text
    assumed_role: str | None = None
    created_at: int | None = None  # enqueued at (epoch ms): metrics' enqueue->start latency
    started_at: int | None = None  # claimed at (the claim's now_ms)
    trace_context: str | None = None  # the enqueue span's traceparent (tracing.py)

    @classmethod
    def of(cls, row: dict[str, Any], token: str) -> ClaimedWorkflow:
        return cls(row["workflow_uuid"], token, row["name"], row["class_name"], row["config_name"],
                   row["inputs"], row["queue_name"], row["recovery_attempts"],
                   row["max_recovery_attempts"], row["workflow_deadline_epoch_ms"], row["has_steps"],
                   row["queue_partition_key"], row.get("authenticated_user"),
                   row.get("authenticated_roles"), row.get("assumed_role"), row.get("created_at"),
                   row.get("started_at_epoch_ms"), row.get("trace_context"))


@dataclass(frozen=True, slots=True)
class WorkflowRecord:
    """Every column of a workflow_status row (status, list)."""

    workflow_id: str
    status: str
    name: str
    class_name: str | None
    config_name: str | None
    inputs: str | None
    output: str | None
    error: str | None
    serialization: str
    queue_name: str | None
    priority: int
    deduplication_id: str | None
    executor_id: str | None
    owner_token: str | None
    owner_instance: str | None
    application_version: str | None
    application_name: str | None
    recovery_attempts: int
    max_recovery_attempts: int | None
    timeout_ms: int | None
    deadline_ms: int | None
    delay_until_ms: int | None
    parent_workflow_id: str | None
    rate_limited: bool
    created_at: int
    updated_at: int
    started_at_ms: int | None
    completed_at: int | None
    authenticated_user: str | None = None
    authenticated_roles: str | None = None  # JSON text
    assumed_role: str | None = None
    attributes: Any = None  # JSONB, decoded
    queue_partition_key: str | None = None
    forked_from: str | None = None
    was_forked_from: bool = False

    @classmethod
    def of(cls, r: dict[str, Any]) -> WorkflowRecord:
        return cls(r["workflow_uuid"], r["status"], r["name"], r["class_name"], r["config_name"],
                   r["inputs"], r["output"], r["error"], r["serialization"], r["queue_name"],
                   r["priority"], r["deduplication_id"], r["executor_id"], r["owner_token"],
                   r["owner_instance"], r["application_version"], r["application_name"],
                   r["recovery_attempts"], r["max_recovery_attempts"], r["workflow_timeout_ms"],
                   r["workflow_deadline_epoch_ms"], r["delay_until_epoch_ms"],
                   r["parent_workflow_id"], r["rate_limited"], r["created_at"], r["updated_at"],
                   r["started_at_epoch_ms"], r["completed_at"], r.get("authenticated_user"),
                   r.get("authenticated_roles"), r.get("assumed_role"), r.get("attributes"),
                   r.get("queue_partition_key"), r.get("forked_from"),
                   bool(r.get("was_forked_from", False)))


@dataclass(frozen=True, slots=True)
class StepRecord:
    """A recorded operation (step, sleep, send, recv, child start...) of a workflow."""

    function_id: int
    function_name: str
    output: str | None
    error: str | None
    child_workflow_id: str | None = None
    started_at_ms: int | None = None
    completed_at_ms: int | None = None

    @classmethod
    def of(cls, r: dict[str, Any]) -> StepRecord:
        return cls(r["function_id"], r["function_name"], r["output"], r["error"],
                   r["child_workflow_id"], r["started_at_epoch_ms"], r["completed_at_epoch_ms"])


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A step checkpoint to write (group commit), fenced by the execution's owner token."""

    workflow_id: str
    owner_token: str
    function_id: int
    function_name: str
    output: str | None
    error: str | None
    child_workflow_id: str | None
    started_at_ms: int | None
    completed_at_ms: int | None = None  # None: when written (DBOS.sleep records its wake time)


@dataclass(frozen=True, slots=True)
class Completion:
    """A workflow outcome to write (group commit), fenced by the owner token; `step` is a
    deferred last-step checkpoint written in the same statement."""

    workflow_id: str
    owner_token: str
    status: str
    output: str | None
    error: str | None
    step: Checkpoint | None = None


@dataclass(frozen=True, slots=True)
class Ownership:
    """Who owns a workflow as a checkpoint found it, and whether the checkpoint was written."""

    status: str | None
    owner_token: str | None
    written: bool


@dataclass(frozen=True, slots=True)
class Hold:
    """A PENDING workflow of an executor id and the instance holding it; `silent_ms` is how
    long that instance has not renewed its lease, on the database's clock."""

    workflow_id: str
    owner_token: str | None
    owner_instance: str | None
    queue_name: str | None
    host: str | None
    pid: int | None
    proc_start_ticks: int | None
    boot_id: str | None
    stopped_at: int | None
    silent_ms: int | None

    @classmethod
    def of(cls, r: dict[str, Any]) -> Hold:
        return cls(r["workflow_uuid"], r["owner_token"], r["owner_instance"], r["queue_name"],
                   r["host"], r["pid"], r["proc_start_ticks"], r["boot_id"], r["stopped_at"],
                   r["silent_ms"])


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    name: str
    workflow_name: str
    schedule: str
    status: str
    kind: str  # "decorator" (@DBOS.scheduled) or "dynamic" (DBOS.create_schedule)
    context: str | None
    automatic_backfill: bool
    cron_timezone: str | None
    queue_name: str | None
    last_fired_at: int | None
    created_at: int | None
    schedule_id: str = ""
    workflow_class_name: str | None = None
    application_name: str | None = None
    resumed_at: int | None = None  # when a paused schedule was last resumed

    @classmethod
    def of(cls, r: dict[str, Any]) -> ScheduleRecord:
        return cls(r["schedule_name"], r["workflow_name"], r["schedule"], r["status"], r["kind"],
                   r["context"], r["automatic_backfill"], r["cron_timezone"], r["queue_name"],
                   r["last_fired_at"], r["created_at"], r["schedule_id"], r["workflow_class_name"],
                   r["application_name"], r["resumed_at"])


@dataclass(frozen=True, slots=True)
class LeaderRecord:
    instance_id: str
    executor_id: str
    elected_at: int
    renewed_at: int | None


@dataclass(frozen=True, slots=True)
class Fenced:
    """A stale leader whose session a follower terminated."""

    executor_id: str
    instance_id: str
    backend_pid: int
    stale_ms: int


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """A queue's row: its limits (partition_* apply per queue_partition_key), owner and whether
    it was registered with DBOS.register_queue (database-backed: limits changeable at run time)."""

    name: str
    concurrency: int | None = None
    worker_concurrency: int | None = None
    rate_limit_max: int | None = None
    rate_limit_period_sec: float | None = None
    priority_enabled: bool = False
    polling_interval_sec: float = 1.0
    partition_concurrency: int | None = None
    partition_worker_concurrency: int | None = None
    partition_rate_limit_max: int | None = None
    partition_rate_limit_period_sec: float | None = None
    application_name: str | None = None
    database_backed: bool = False

    @classmethod
    def of(cls, r: dict[str, Any]) -> QueueSettings:
        return cls(**{f: r[f] for f in QUEUE_FIELDS})


QUEUE_FIELDS = tuple(f.name for f in dataclasses.fields(QueueSettings))

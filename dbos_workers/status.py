"""WorkflowStatus: what DBOS.get_workflow_status and list_workflows return."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from .db.records import WorkflowRecord

if TYPE_CHECKING:
    from .runtime import Runtime


class WorkflowStatusString(Enum):
    """The values of WorkflowStatus.status (as DBOS)."""

    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    MAX_RECOVERY_ATTEMPTS_EXCEEDED = "MAX_RECOVERY_ATTEMPTS_EXCEEDED"
    CANCELLED = "CANCELLED"
    ENQUEUED = "ENQUEUED"
    DELAYED = "DELAYED"


@dataclass
class WorkflowStatus:
    workflow_id: str
    status: str
    name: str
    class_name: str | None
    config_name: str | None
    input: Any
    output: Any
    error: BaseException | None
    queue_name: str | None
    priority: int
    deduplication_id: str | None
    executor_id: str | None
    app_version: str | None
    application_name: str | None
    recovery_attempts: int
    workflow_timeout_ms: int | None
    workflow_deadline_epoch_ms: int | None
    parent_workflow_id: str | None
    created_at: int
    updated_at: int
    dequeued_at: int | None
    completed_at: int | None
    delay_until_epoch_ms: int | None
    # Who started it (DBOSContextSetAuth, required roles), its attributes, its partition key.
    authenticated_user: str | None = None
    authenticated_roles: list[str] | None = None
    assumed_role: str | None = None
    attributes: dict[str, Any] | None = None
    queue_partition_key: str | None = None
    # Lineage of fork_workflow: the original a fork came from; whether this one was forked.
    forked_from: str | None = None
    was_forked_from: bool = False


def _load(rt: Runtime, text: str | None, error: bool = False) -> Any:
    if text is None:
        return None
    try:
        return rt.serializer.deserialize_error(text) if error else rt.serializer.deserialize(text)
    except Exception as exc:  # a value written by another app's serializer or classes
        return exc


def status_from_row(rt: Runtime, row: WorkflowRecord) -> WorkflowStatus:
    return WorkflowStatus(
        workflow_id=row.workflow_id, status=row.status, name=row.name,
        class_name=row.class_name, config_name=row.config_name,
        input=_load(rt, row.inputs), output=_load(rt, row.output),
        error=_load(rt, row.error, error=True), queue_name=row.queue_name,
        priority=row.priority, deduplication_id=row.deduplication_id,
        executor_id=row.executor_id, app_version=row.application_version,
        application_name=row.application_name, recovery_attempts=row.recovery_attempts,
        workflow_timeout_ms=row.timeout_ms, workflow_deadline_epoch_ms=row.deadline_ms,
        parent_workflow_id=row.parent_workflow_id, created_at=row.created_at,
        updated_at=row.updated_at, dequeued_at=row.started_at_ms,
        completed_at=row.completed_at, delay_until_epoch_ms=row.delay_until_ms,
        authenticated_user=row.authenticated_user,
        authenticated_roles=json.loads(row.authenticated_roles) if row.authenticated_roles else None,
        assumed_role=row.assumed_role, attributes=row.attributes,
        queue_partition_key=row.queue_partition_key,
        forked_from=row.forked_from, was_forked_from=row.was_forked_from,
    )

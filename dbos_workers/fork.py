"""fork_workflow (DBOS 3.4): a new workflow that starts over from a step of an existing one.

The fork gets a new id (SetWorkflowID's, else a uuid), the original's function, instance and
inputs, the original's recorded operations before `start_step` (so they replay instead of
running again), the stream values they wrote and, when any operation is copied, the
original's events; `forked_from` names the original and the original is marked
`was_forked_from`. Then it is enqueued (on `queue_name`, else the internal queue), all in one
transaction. "Restart" is a fork from step 1."""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from .context import consume_workflow_id
from .db.admin import ForkRequest
from .errors import DBOSConflictingWorkflowError, DBOSException, DBOSNonExistentWorkflowError
from .handle import WorkflowHandle
from .registry import INTERNAL_QUEUE
from .runtime import Runtime
from .steps import operation

log = structlog.get_logger("dbos_workers.fork")


def _request(workflow_id: str, start_step: int, new_id: str, application_version: str | None,
             queue_name: str | None, timeout_seconds: float | None) -> ForkRequest:
    if isinstance(start_step, bool) or not isinstance(start_step, int) or start_step < 1:
        raise DBOSException(f"start_step must be an integer >= 1, got {start_step!r}")
    if timeout_seconds is not None and not timeout_seconds > 0:
        raise DBOSException(f"timeout_seconds must be > 0, got {timeout_seconds!r}")
    return ForkRequest(workflow_id=workflow_id, new_id=new_id, start_step=start_step,
                       queue_name=queue_name or INTERNAL_QUEUE,
                       application_version=application_version,
                       timeout_ms=None if timeout_seconds is None else int(timeout_seconds * 1000))


def fork_workflow(rt: Runtime, workflow_id: str, start_step: int, *,
                  application_version: str | None = None, queue_name: str | None = None,
                  timeout_seconds: float | None = None) -> WorkflowHandle[Any]:
    """Fork and enqueue; returns the fork's handle (in a workflow: operation
    "DBOS.forkWorkflow", the new id recorded and replayed)."""
    explicit = consume_workflow_id()

    def do(_: Any, __: int) -> str:
        req = _request(workflow_id, start_step, explicit or str(uuid.uuid4()), application_version,
                       queue_name, timeout_seconds)
        result = rt.db.admin.fork(req)
        if not result.found:
            raise DBOSNonExistentWorkflowError(workflow_id)
        if not result.forked:
            existing = rt.db.workflows.get(req.new_id)
            if existing is None or existing.forked_from != workflow_id:  # else: a retried commit
                raise DBOSConflictingWorkflowError(req.new_id, "a workflow with this id already exists")
        rt.log.info("workflow_forked", workflow_id=workflow_id, fork_id=req.new_id,
                    start_step=start_step, steps_copied=result.steps, queue=req.queue_name)
        return req.new_id

    new_id: str = operation(rt, "DBOS.forkWorkflow", do)
    return WorkflowHandle(rt, new_id)

"""WorkflowHandle and waiting for a workflow's outcome (completion NOTIFY + polling backstop)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .db.listener import wake_key
from .db.records import Outcome
from .errors import (
    DBOSAwaitedWorkflowCancelledError,
    DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded,
    DBOSNonExistentWorkflowError,
)
from .status import WorkflowStatus, status_from_row

if TYPE_CHECKING:
    from .runtime import Runtime

R = TypeVar("R")
BACKSTOP_SEC = 1.0


class WorkflowTimeoutError(TimeoutError):
    pass


def outcome_of(rt: Runtime, workflow_id: str, row: Outcome) -> tuple[bool, Any]:
    """(True, result) for a finished workflow; raises its error; (False, None) if running."""
    status = row.status
    if status == "SUCCESS":
        return True, None if row.output is None else rt.serializer.deserialize(row.output)
    if status == "ERROR":
        raise rt.serializer.deserialize_error(row.error or "")
    if status == "CANCELLED":
        raise DBOSAwaitedWorkflowCancelledError(workflow_id)
    if status == "MAX_RECOVERY_ATTEMPTS_EXCEEDED":
        raise DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded(workflow_id)
    return False, None


def wait_outcome(rt: Runtime, workflow_id: str, timeout: float | None = None,
                 poll: float = BACKSTOP_SEC) -> Any:
    """The workflow's result (or its raised error) once it finished. A NOTIFY on the done
    channel wakes the wait at once; the row is also re-read every `poll` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    rt.listen_done()
    with rt.waiters.watch(wake_key("c:", workflow_id)) as woken:
        while True:
            row = rt.db.workflows.outcome(workflow_id)
            if row is None:
                raise DBOSNonExistentWorkflowError(workflow_id)
            done, value = outcome_of(rt, workflow_id, row)
            if done:
                return value
            wait = poll
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    raise WorkflowTimeoutError(f"workflow {workflow_id!r} still running")
            woken.wait(wait)
            woken.clear()


@dataclass
class WorkflowHandle(Generic[R]):
    _origin: Runtime
    workflow_id: str

    @property
    def _rt(self) -> Runtime:
        """The runtime that made the handle, or this process's current one after a relaunch."""
        if self._origin.closed:
            from .runtime import process_runtime

            return process_runtime() or self._origin
        return self._origin

    def get_workflow_id(self) -> str:
        return self.workflow_id

    def get_result(self, *, polling_interval_sec: float = BACKSTOP_SEC, timeout: float | None = None) -> R:
        """Wait for the outcome: woken by NOTIFY within milliseconds; the row is also re-read
        every polling_interval_sec seconds (a backstop for a lost notification)."""
        from .steps import operation

        if isinstance(polling_interval_sec, bool) or not isinstance(polling_interval_sec, int | float):
            raise TypeError(f"polling_interval_sec must be a number of seconds, not {polling_interval_sec!r}")
        if not polling_interval_sec > 0:
            raise ValueError(f"polling_interval_sec must be > 0, not {polling_interval_sec!r}")
        return operation(  # type: ignore[no-any-return]
            self._rt, "DBOS.getResult",
            lambda ctx, fid: wait_outcome(self._rt, self.workflow_id, timeout, float(polling_interval_sec)),
            child_workflow_id=self.workflow_id)

    def get_status(self) -> WorkflowStatus:
        row = self._rt.db.workflows.get(self.workflow_id)
        if row is None:
            raise DBOSNonExistentWorkflowError(self.workflow_id)
        return status_from_row(self._rt, row)

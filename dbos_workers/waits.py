"""DBOS.wait_first: the first of several workflows to finish, woken by completion NOTIFYs."""

from __future__ import annotations

from typing import Any

from .db.listener import wake_key
from .handle import BACKSTOP_SEC, WorkflowHandle
from .runtime import Runtime
from .steps import operation


def wait_first(rt: Runtime, handles: list[WorkflowHandle[Any]], *,
               polling_interval_sec: float = BACKSTOP_SEC) -> WorkflowHandle[Any]:
    """The handle of the first workflow to leave ENQUEUED/PENDING/DELAYED (whatever its
    outcome). In a workflow, an operation (`DBOS.waitFirst`) recording which one it was."""
    if not handles:
        raise ValueError("handles must not be empty")
    ids = [h.workflow_id for h in handles]
    if len(set(ids)) != len(ids):
        raise ValueError("handles must not contain duplicate workflow IDs")
    if isinstance(polling_interval_sec, bool) or not isinstance(polling_interval_sec, int | float) \
            or not polling_interval_sec > 0:
        raise ValueError(f"polling_interval_sec must be a positive number, not {polling_interval_sec!r}")
    by_id = {h.workflow_id: h for h in handles}

    def wait(_: Any, __: int) -> str:
        rt.listen_done()
        with rt.waiters.watch(*(wake_key("c:", i) for i in ids)) as woken:
            while True:  # registered before the read: a completion in between is not missed
                first = rt.db.workflows.first_finished(ids)
                if first is not None:
                    return first
                woken.wait(polling_interval_sec)
                woken.clear()

    return by_id[operation(rt, "DBOS.waitFirst", wait)]

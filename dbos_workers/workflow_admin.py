"""Workflows managed by id, one or many: cancel, resume, delete, delay (DBOS 3.4's
`cancel_workflows`, `resume_workflows`, `delete_workflow(s)`, `set_workflow_delay`). Inside a
workflow each call is one recorded operation, as in DBOS, so a replay does not repeat it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from .errors import DBOSException, DBOSNonExistentWorkflowError
from .handle import WorkflowHandle
from .registry import INTERNAL_QUEUE
from .runtime import Runtime
from .steps import operation

log = structlog.get_logger("dbos_workers.admin")


def _ids(workflow_ids: Sequence[str] | str) -> list[str]:
    if isinstance(workflow_ids, str) or not all(isinstance(w, str) for w in workflow_ids):
        raise DBOSException(f"workflow_ids must be a list of strings, got {workflow_ids!r}")
    return list(dict.fromkeys(workflow_ids))


def with_descendants(rt: Runtime, workflow_ids: list[str]) -> list[str]:
    """The workflows and every workflow they started, recursively (level by level)."""
    seen, frontier = dict.fromkeys(workflow_ids), list(workflow_ids)
    while frontier:
        frontier = [c for c in rt.db.workflows.children(frontier) if c not in seen]
        seen.update(dict.fromkeys(frontier))
    return list(seen)


def cancel(rt: Runtime, workflow_ids: Sequence[str], *, cancel_children: bool = False) -> None:
    ids = _ids(workflow_ids)

    def do(_: Any, __: int) -> None:
        targets = with_descendants(rt, ids) if cancel_children else ids
        log.info("workflows_cancelled", workflows=len(targets))
        rt.db.workflows.cancel(targets)
        for workflow_id in targets:
            rt.cancel_local(workflow_id)

    operation(rt, "DBOS.cancelWorkflow", do)


def resume(rt: Runtime, workflow_ids: Sequence[str], *,
           queue_name: str | None = None) -> list[WorkflowHandle[Any]]:
    """Back to ENQUEUED (unless finished); every id must exist, or nothing changes."""
    ids = _ids(workflow_ids)

    def do(_: Any, __: int) -> None:
        missing = [w for w in ids if w not in rt.db.workflows.existing(ids)]
        if missing:
            raise DBOSNonExistentWorkflowError("target", ", ".join(missing))
        rt.db.workflows.resume(ids, queue_name=queue_name, default_queue=INTERNAL_QUEUE)

    operation(rt, "DBOS.resumeWorkflow", do)
    return [WorkflowHandle(rt, w) for w in ids]


def delete(rt: Runtime, workflow_ids: Sequence[str], *, delete_children: bool = False) -> None:
    """The workflows (and with delete_children their descendants) and all their data."""
    ids = _ids(workflow_ids)

    def do(_: Any, __: int) -> None:
        targets = with_descendants(rt, ids) if delete_children else ids
        deleted = rt.db.workflows.delete(targets)
        for workflow_id in targets:
            rt.cancel_local(workflow_id)
        log.info("workflows_deleted", workflows=deleted)

    operation(rt, "DBOS.deleteWorkflow", do)


def set_delay(rt: Runtime, workflow_id: str, *, delay_seconds: float | None = None,
              delay_until_epoch_ms: int | None = None) -> None:
    """Move the start of a DELAYED workflow; exactly one of the two is given (DBOS's words)."""
    if delay_seconds is not None and delay_until_epoch_ms is not None:
        raise DBOSException("Specify either delay_seconds or delay_until_epoch_ms, not both")
    if delay_until_epoch_ms is not None:
        if delay_until_epoch_ms < 0:
            raise DBOSException("delay_until_epoch_ms must be >= 0")
    elif delay_seconds is not None:
        if delay_seconds < 0:
            raise DBOSException("delay_seconds must be >= 0")
    else:
        raise DBOSException("Must specify either delay_seconds or delay_until_epoch_ms")

    def do(_: Any, __: int) -> None:
        until = delay_until_epoch_ms if delay_until_epoch_ms is not None \
            else rt.clock.now_ms() + int(float(delay_seconds or 0) * 1000)
        rt.db.workflows.set_delay(workflow_id, int(until))

    operation(rt, "DBOS.setWorkflowDelay", do)


class WorkflowAdminAPI:
    """Mixed into DBOS: the calls above as DBOS classmethods (`shard_key` accepted as None)."""

    @classmethod
    def _rt(cls) -> Runtime:  # the DBOS façade provides it
        raise NotImplementedError

    @classmethod
    def cancel_workflows(cls, workflow_ids: list[str], *, cancel_children: bool = False,
                         shard_key: str | None = None) -> None:
        _no_shard(shard_key)
        cancel(cls._rt(), workflow_ids, cancel_children=cancel_children)

    @classmethod
    def resume_workflows(cls, workflow_ids: list[str], *, queue_name: str | None = None,
                         shard_key: str | None = None) -> list[WorkflowHandle[Any]]:
        _no_shard(shard_key)
        return resume(cls._rt(), workflow_ids, queue_name=queue_name)

    @classmethod
    def delete_workflow(cls, workflow_id: str, *, delete_children: bool = False,
                        shard_key: str | None = None) -> None:
        _no_shard(shard_key)
        delete(cls._rt(), [workflow_id], delete_children=delete_children)

    @classmethod
    def delete_workflows(cls, workflow_ids: list[str], *, delete_children: bool = False,
                         shard_key: str | None = None) -> None:
        _no_shard(shard_key)
        delete(cls._rt(), workflow_ids, delete_children=delete_children)

    @classmethod
    def set_workflow_delay(cls, workflow_id: str, *, delay_seconds: float | None = None,
                           delay_until_epoch_ms: int | None = None, shard_key: str | None = None) -> None:
        _no_shard(shard_key)
        set_delay(cls._rt(), workflow_id, delay_seconds=delay_seconds,
                  delay_until_epoch_ms=delay_until_epoch_ms)


def _no_shard(shard_key: str | None) -> None:
    if shard_key is not None:
        raise DBOSException("shard_key is not supported: dbos-workers has one system database")

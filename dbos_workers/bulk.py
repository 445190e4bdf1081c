"""Queue.enqueue_many: many workflows enqueued in one statement per 2,000 rows, all in one
transaction (all of them are recorded, or none), each item with its own arguments and, if it
wants, its own workflow id, deduplication id, priority, delay and partition key. Inside a
workflow the whole batch is one operation: a replay returns the same handles."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import metrics
from .context import StartOptions, current_step, current_workflow, start_options
from .db.records import NewWorkflow
from .errors import DBOSConfigError, DBOSQueueConfigError, DBOSQueueDeduplicatedError, DBOSWorkersError
from .handle import WorkflowHandle
from .registry import WorkflowInfo
from .runtime import Runtime
from .steps import operation
from .workflow import Placement, new_row

CHUNK = 2000


@dataclass(frozen=True)
class EnqueueItem:
    """One workflow of an enqueue_many batch; unset options come from the enclosing
    SetEnqueueOptions / SetWorkflowTimeout block."""

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    workflow_id: str | None = None
    deduplication_id: str | None = None
    priority: int | None = None
    delay_seconds: float | None = None
    queue_partition_key: str | None = None


def _item(value: Any) -> EnqueueItem:
    if isinstance(value, EnqueueItem):
        return value
    if isinstance(value, tuple):
        return EnqueueItem(args=value)
    raise DBOSConfigError("enqueue_many items are argument tuples or EnqueueItem(...), "
                          f"got {type(value).__name__}")


_ITEM_OPTIONS = ("deduplication_id", "priority", "delay_seconds", "queue_partition_key")


def _options(base: StartOptions, item: EnqueueItem) -> StartOptions:
    """The item's options over the enclosing block's (`base`, its workflow id cleared)."""
    changes = {k: v for k in _ITEM_OPTIONS if (v := getattr(item, k)) is not None}
    if not changes:
        return base
    opts = dataclasses.replace(base, **changes)
    if opts.queue_partition_key is not None and opts.deduplication_id is not None:
        raise DBOSConfigError("Deduplication is not supported for partitioned queues")
    return opts


def rows_of(rt: Runtime, queue_name: str, info: WorkflowInfo, items: Sequence[EnqueueItem],
            ids: list[str]) -> list[NewWorkflow]:
    base, parent = dataclasses.replace(start_options(), workflow_id=None), current_workflow()
    queue = rt.registry.queues.get(queue_name)
    rows = []
    for item, workflow_id in zip(items, ids, strict=True):
        opts = _options(base, item)
        if queue is not None and queue.partitioned and opts.queue_partition_key is None:
            raise DBOSQueueConfigError(f"queue {queue_name!r} is partitioned: every item needs a "
                                       "queue_partition_key")
        inputs = rt.serializer.serialize({"args": item.args, "kwargs": item.kwargs})
        rows.append(new_row(rt, info, workflow_id, inputs, Placement("queue", queue_name), parent, opts=opts))
    return rows


def enqueue_many(rt: Runtime, queue_name: str, info: WorkflowInfo,
                 values: Iterable[Any]) -> list[WorkflowHandle[Any]]:
    if current_step() is not None:
        raise DBOSWorkersError("workflows cannot be started or enqueued from inside a step")
    items = [_item(v) for v in values]
    parent = current_workflow()

    def insert(_: Any, fid: int) -> list[str]:
        prefix = f"{parent.workflow_id}-{fid}-" if parent is not None else None
        ids = [item.workflow_id or (f"{prefix}{i}" if prefix else str(uuid.uuid4()))
               for i, item in enumerate(items)]
        if len(set(ids)) != len(ids):
            raise DBOSConfigError("enqueue_many: a workflow id appears twice in one batch")
        rows = rows_of(rt, queue_name, info, items, ids)
        conflicts = rt.db.workflows.enqueue_atomic(rows, CHUNK)
        if conflicts:
            first = rows[conflicts[0]]
            raise DBOSQueueDeduplicatedError(first.workflow_id, queue_name, str(first.deduplication_id))
        metrics.enqueued_many(queue_name, info.name, len(rows))
        return ids

    ids: list[str] = insert(None, 0) if parent is None else operation(rt, "DBOS.enqueueMany", insert)
    return [WorkflowHandle(rt, workflow_id) for workflow_id in ids]

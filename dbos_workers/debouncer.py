"""Debouncer: debounced workflow starts (DBOS's `Debouncer`).

`debounce(key, period, *args)` starts the workflow `period` seconds from now, unless calls for
the same key keep coming: each one pushes the start later (up to `debounce_timeout_sec` after
the first) and replaces the inputs, so the workflow runs once, with the last inputs. State
lives in the database only, so debounces from any process coalesce: the waiting workflow is a
DELAYED row flagged is_debounced whose deduplication id is `<workflow name>-<key>`; when the
leader promotes it to ENQUEUED it gives the key up, and the next debounce starts afresh.

In a workflow, the bounce is an operation (`DBOS.debounce_delayed_workflow`) recorded in the
same transaction as the bounce itself, and a fresh start is a child workflow: a replay
returns the same handle and starts nothing twice.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .context import (
    SetWorkflowID,
    _OptionBlock,
    consume_workflow_id,
    current_step,
    current_workflow,
    start_options,
)
from .db.debounce import Bounce, BounceResult
from .db.records import Checkpoint, StepRecord
from .errors import DBOSQueueDeduplicatedError, DBOSWorkersError
from .handle import WorkflowHandle
from .queue import Queue
from .registry import INTERNAL_QUEUE, WorkflowInfo, info_of
from .runtime import Runtime, current_runtime
from .steps import check_cancelled, ensure_owner, replay
from .workflow import enqueue

R = TypeVar("R")
BOUNCE_STEP = "DBOS.debounce_delayed_workflow"
MAX_RACES = 50  # a key changing hands this often in one call is a conflict, not a race


class _SetDebounce(_OptionBlock):
    """The debounce's own start options: its key, its delay, its deadline."""

    def __init__(self, deduplication_id: str, delay_seconds: float, deadline_ms: int | None) -> None:
        self.changes = {"deduplication_id": deduplication_id, "delay_seconds": delay_seconds,
                        "debounced": True, "debounce_deadline_ms": deadline_ms}

    def _changes(self) -> dict[str, Any]:
        return self.changes


def _reject_conflicting_options(pinned_policy: object) -> None:
    opts = start_options()
    owned = [("deduplication_id", opts.deduplication_id is not None,
              "the debounce key is used as the workflow's deduplication ID"),
             ("delay", opts.delay_seconds is not None, "the debounce period controls the workflow's delay"),
             ("priority", opts.priority is not None, "priority is not supported for debounced workflows"),
             ("queue partition key", getattr(opts, "queue_partition_key", None) is not None,
              "partitioned queues do not support deduplication, which debouncing requires"),
             ("duplication_policy 'return-existing'",
              getattr(opts, "duplication_policy", None) == "return-existing",
              "a debounce owns the workflow's deduplication behavior"),
             ("workflow_id_reuse_policy 'reject'", pinned_policy == "reject",
              "a debounce owns how its workflow is started")]
    for what, is_set, why in owned:
        if is_set:
            raise DBOSWorkersError(f"Cannot debounce a workflow with a {what} set: {why}.")


class Debouncer(Generic[R]):
    """Debounced starts of one workflow (by name), on a queue or the internal queue."""

    def __init__(self, workflow_name: str, *, debounce_timeout_sec: float | None = None,
                 queue: Queue | str | None = None, application_name: str | None = None) -> None:
        self.func_name = workflow_name
        self.debounce_timeout_sec = debounce_timeout_sec
        self.queue_name = queue.name if isinstance(queue, Queue) else queue
        self.application_name = application_name

    @staticmethod
    def create(workflow: Callable[..., R], *, debounce_timeout_sec: float | None = None,
               queue: Queue | str | None = None, application_name: str | None = None) -> Debouncer[R]:
        if isinstance(workflow, types.MethodType):
            raise TypeError("Only workflow functions may be debounced, not methods")
        return Debouncer[R](info_of(workflow).name, debounce_timeout_sec=debounce_timeout_sec,
                            queue=queue, application_name=application_name)

    def _resolve(self, rt: Runtime) -> tuple[WorkflowInfo, str]:
        queue_name = self.queue_name or INTERNAL_QUEUE
        if queue_name != INTERNAL_QUEUE and queue_name not in rt.registry.queues:
            raise DBOSWorkersError(f"Invalid queue name provided to debouncer: {queue_name}")
        info = rt.registry.workflows.get(self.func_name)
        if info is None:
            raise DBOSWorkersError(f"Invalid workflow name provided to debouncer: {self.func_name}")
        return info, queue_name

    def debounce(self, debounce_key: str, debounce_period_sec: float, *args: Any,
                 **kwargs: Any) -> WorkflowHandle[R]:
        rt = current_runtime()
        if current_step() is not None:
            raise DBOSWorkersError("workflows cannot be started or enqueued from inside a step")
        # A pinned id applies to a fresh start only (every attempt); it never stays armed.
        pinned = consume_workflow_id()
        _reject_conflicting_options(getattr(start_options(), "workflow_id_reuse_policy", None))
        info, queue_name = self._resolve(rt)
        dedup = f"{self.func_name}-{debounce_key}"
        inputs = rt.serializer.serialize({"args": args, "kwargs": kwargs})
        holder: str | None = None
        for _ in range(MAX_RACES):
            now = rt.clock.now_ms()
            bounce = Bounce(self.func_name, queue_name, dedup, now + int(debounce_period_sec * 1000),
                            inputs, rt.serializer.name())
            result = _bounce(rt, bounce)
            if result.bounced_workflow_id is not None:
                return WorkflowHandle(rt, result.bounced_workflow_id)
            holder = result.holder_workflow_id
            if holder is not None:
                if not result.holder_is_debounced or result.holder_workflow_name != self.func_name:
                    raise DBOSQueueDeduplicatedError(holder, queue_name, dedup)
                continue  # a debounced holder left DELAYED under us: bounce again
            deadline = now + int(self.debounce_timeout_sec * 1000) if self.debounce_timeout_sec else None
            delay_ms = max(1, min(bounce.delay_until_ms, deadline or bounce.delay_until_ms) - now)
            try:
                with SetWorkflowID(pinned) if pinned else contextlib.nullcontext(), \
                        _SetDebounce(dedup, delay_ms / 1000, deadline):
                    return enqueue(rt, queue_name, info, args, kwargs)
            except DBOSQueueDeduplicatedError:
                continue  # another debounce took the key since the bounce: bounce that one
        raise DBOSQueueDeduplicatedError(holder or "", queue_name, dedup)


def _bounce(rt: Runtime, bounce: Bounce) -> BounceResult:
    """The bounce; in workflow code, an operation recorded in the bounce's transaction."""
    ctx = current_workflow()
    if ctx is None:
        result = rt.db.debounce.bounce(bounce)
        assert result is not None
        return result
    check_cancelled(rt, ctx)
    fid = ctx.next_function_id()
    done, recorded = replay(rt, ctx, fid, BOUNCE_STEP)
    if done:
        return BounceResult.of(recorded)
    checkpoint = Checkpoint(ctx.workflow_id, ctx.owner_token, fid, BOUNCE_STEP, None, None, None,
                            rt.clock.now_ms())
    outputs: list[str] = []

    def output_of(r: BounceResult) -> str:
        outputs.append(rt.serializer.serialize(r.as_dict()))
        return outputs[-1]

    result = rt.db.debounce.bounce(bounce, checkpoint, output_of, lambda owner: ensure_owner(ctx, owner))
    if result is None:  # an earlier try of this transaction committed: use what it recorded
        row = rt.db.steps.get(ctx.workflow_id, fid)
        assert row is not None and row.output is not None
        ctx.recorded[fid] = row
        return BounceResult.of(rt.serializer.deserialize(row.output))
    ctx.recorded[fid] = StepRecord(fid, BOUNCE_STEP, outputs[-1], None)
    return result

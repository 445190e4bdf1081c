"""Group commit: concurrent writes of the same kind (workflow outcomes, step checkpoints)
share one statement and one commit (River's completer idea). No background thread: the
first caller that finds no flush running becomes the flusher for everything pending; the
others wait for their batch's commit, so a call still returns only once its write is durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .clock import Clock
from .db.repository import Repository, Row

MAX_BATCH = 256
I = TypeVar("I")  # noqa: E741
R = TypeVar("R")


class _Slot(Generic[I, R]):
    """One submitted write. Its gate is held until a flusher releases it: either the write is
    done, or the slot was handed the flusher role."""

    __slots__ = ("done", "failure", "gate", "item", "result")

    def __init__(self, item: I) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.failure: BaseException | None = None
        self.gate = threading.Lock()
        self.gate.acquire()


class GroupCommit(Generic[I, R]):
    """Waiters sleep on their own slot's gate, so a flush wakes exactly the callers whose
    writes it committed (and the next flusher), not every waiting thread."""

    def __init__(self, flush: Callable[[list[I]], Sequence[R]], max_batch: int = MAX_BATCH) -> None:
        self._flush_fn, self.max_batch = flush, max_batch
        self._mutex = threading.Lock()
        self._pending: list[_Slot[I, R]] = []
        self._flushing = False

    def submit(self, item: I) -> R:
        slot: _Slot[I, R] = _Slot(item)
        with self._mutex:
            self._pending.append(slot)
            lead = not self._flushing
            self._flushing = True
        while not slot.done:
            if not lead:
                slot.gate.acquire()  # released when done, or when handed the flusher role
                if slot.done:
                    break
            with self._mutex:
                batch = self._pending[:self.max_batch]
                del self._pending[:self.max_batch]
            self._flush(batch, slot)
            lead = True
        if slot.failure is not None:
            raise slot.failure
        return slot.result  # type: ignore[return-value]

    def _flush(self, batch: list[_Slot[I, R]], me: _Slot[I, R]) -> None:
        failure: BaseException | None = None
        results: Sequence[R] = ()
        try:
            results = self._flush_fn([s.item for s in batch])
        except BaseException as exc:  # every waiter of this batch sees the failure
            failure = exc
        for i, s in enumerate(batch):
            s.failure = failure
            if failure is None:
                s.result = results[i]
            s.done = True
            if s is not me:
                s.gate.release()
        if not me.done:
            return  # our own write is still pending (a batch overflow): keep the role
        with self._mutex:
            if self._pending:
                self._pending[0].gate.release()  # hand the flusher role on
            else:
                self._flushing = False


@dataclass(frozen=True)
class Checkpoint:
    workflow_id: str
    owner_token: str
    function_id: int
    function_name: str
    output: str | None
    error: str | None
    child_workflow_id: str | None
    started_at_ms: int | None


@dataclass(frozen=True)
class Completion:
    workflow_id: str
    owner_token: str
    status: str
    output: str | None
    error: str | None
    step: Checkpoint | None = None  # a deferred last-step checkpoint, written in the same statement


def _columns(items: Sequence[Any], names: dict[str, str]) -> dict[str, Any]:
    """Array parameters for unnest(): {param: [item.attr, ...]}."""
    return {param: [getattr(i, attr) for i in items] for param, attr in names.items()}


class Writers:
    """The batched writes of one process: outcomes and step checkpoints."""

    def __init__(self, repo: Repository, channel: str, clock: Clock) -> None:
        self.repo, self.channel, self.clock = repo, channel, clock
        self.outcomes: GroupCommit[Completion, None] = GroupCommit(self._complete)
        self.checkpoints: GroupCommit[Checkpoint, Row | None] = GroupCommit(self._checkpoint)

    def _complete(self, batch: list[Completion]) -> list[None]:
        steps = [c.step for c in batch]
        self.repo.all("workflow_complete_batch", **_columns(batch, {
            "workflow_ids": "workflow_id", "owner_tokens": "owner_token", "statuses": "status",
            "outputs": "output", "errors": "error"}),
            step_ids=[s.function_id if s else None for s in steps],
            step_names=[s.function_name if s else None for s in steps],
            step_outputs=[s.output if s else None for s in steps],
            step_errors=[s.error if s else None for s in steps],
            step_started=[s.started_at_ms if s else None for s in steps],
            now_ms=self.clock.now_ms(), channel=self.channel)
        return [None] * len(batch)

    def _checkpoint(self, batch: list[Checkpoint]) -> list[Row | None]:
        rows = self.repo.all("step_record_batch", **_columns(batch, {
            "workflow_ids": "workflow_id", "owner_tokens": "owner_token",
            "function_ids": "function_id", "function_names": "function_name", "outputs": "output",
            "errors": "error", "child_ids": "child_workflow_id", "started": "started_at_ms"}),
            now_ms=self.clock.now_ms())
        by_key = {(r["workflow_uuid"], r["function_id"]): r for r in rows}
        return [by_key.get((i.workflow_id, i.function_id)) for i in batch]

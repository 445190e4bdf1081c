"""Group commit: concurrent writes of the same kind (enqueues, workflow outcomes, step checkpoints)
share one statement and one commit (River's completer idea). One flusher thread per kind takes
everything pending, writes it in one statement, then releases exactly the callers of that
batch: `submit` returns only once its write is durable; `submit_nowait` returns at once and
calls back (in the flusher thread) once it is, so a pool thread whose workflow is finished
goes on to the next one instead of sleeping through the commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

import structlog

from . import metrics
from .db.records import Checkpoint, Completion, Inserted, NewWorkflow, Ownership
from .osname import name_thread

if TYPE_CHECKING:
    from .db.system import SystemDatabase

MAX_BATCH = 256
I = TypeVar("I")  # noqa: E741
R = TypeVar("R")
log = structlog.get_logger("dbos_workers.groupcommit")
Then = Callable[[BaseException | None], None]


class _Slot(Generic[I, R]):
    """One submitted write: a synchronous caller sleeps on its gate until the flusher releases
    it; an asynchronous one left a callback."""

    __slots__ = ("failure", "gate", "item", "result", "then")

    def __init__(self, item: I, then: Then | None) -> None:
        self.item, self.then = item, then
        self.result: R | None = None
        self.failure: BaseException | None = None
        self.gate: threading.Lock | None = None
        if then is None:
            self.gate = threading.Lock()
            self.gate.acquire()


class GroupCommit(Generic[I, R]):
    def __init__(self, flush: Callable[[list[I]], Sequence[R]], max_batch: int = MAX_BATCH,
                 name: str = "dbos-group-commit", inline: bool = False) -> None:
        self._flush_fn, self.max_batch, self.name = flush, max_batch, name
        # inline: a `submit` that finds nothing pending and no write under way writes itself,
        # in its own thread (no hand-off: a lone enqueue costs what a plain insert costs);
        # callers arriving meanwhile queue up for the flusher and share its next statement.
        self.inline = inline
        self._writing = 0
        self._mutex = threading.Lock()
        self._pending: list[_Slot[I, R]] = []
        self._wake = threading.Lock()  # held while the flusher sleeps; released to wake it
        self._wake.acquire()
        self._sleeping = False
        self._thread: threading.Thread | None = None
        self._closed = False
        # Seconds to let a batch gather before writing it (None or 0: write at once).
        self.linger: Callable[[], float] | None = None

    def start(self) -> None:
        """Start the flusher thread (it sleeps until something is submitted)."""
        with self._mutex:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def submit(self, item: I) -> R:
        """Write item with the next batch; returns its result once committed."""
        if self.inline:
            with self._mutex:
                alone = not self._pending and self._writing == 0 and not self._closed
                if alone:
                    self._writing += 1
            if alone:
                try:
                    return self._flush_fn([item])[0]
                finally:
                    with self._mutex:
                        self._writing -= 1
        slot: _Slot[I, R] = _Slot(item, None)
        self._put(slot)
        assert slot.gate is not None
        slot.gate.acquire()
        if slot.failure is not None:
            raise slot.failure
        return slot.result  # type: ignore[return-value]

    def submit_nowait(self, item: I, then: Then) -> None:
        """Write item with the next batch; then(None) runs in the flusher thread once it is
        committed, then(exception) if the write failed. `then` must not submit."""
        self._put(_Slot(item, then))

    def submit_then(self, item: I, done: Callable[[R | None, BaseException | None], None]) -> None:
        """submit_nowait with the result: done(result, None) or done(None, exception) runs in
        the flusher thread once the batch is written (async callers resolve a loop future)."""
        slot: _Slot[I, R] = _Slot(item, lambda failure: done(slot.result, failure))
        self._put(slot)

    def _put(self, slot: _Slot[I, R]) -> None:
        with self._mutex:
            if self._closed:
                raise RuntimeError(f"{self.name}: closed")
            self._pending.append(slot)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            elif self._sleeping:
                self._sleeping = False
                self._wake.release()

    def _loop(self) -> None:
        name_thread()
        while True:
            with self._mutex:
                pending = bool(self._pending)
                if not pending:
                    if self._closed:
                        return
                    self._sleeping = True
            if not pending:
                self._wake.acquire()
                continue
            delay = self.linger() if self.linger is not None else 0.0
            if delay > 0 and not self._closed:
                time.sleep(delay)  # writes submitted meanwhile join this batch, waking no one
            with self._mutex:
                batch = self._pending[:self.max_batch]
                del self._pending[:self.max_batch]
                self._writing += 1
            try:
                self._flush(batch)
            finally:
                with self._mutex:
                    self._writing -= 1

    def _flush(self, batch: list[_Slot[I, R]]) -> None:
        failure: BaseException | None = None
        results: Sequence[R] = ()
        started = time.perf_counter()
        try:
            results = self._flush_fn([s.item for s in batch])
        except BaseException as exc:  # every caller of this batch sees the failure
            failure = exc
        metrics.group_commit(self.name, len(batch), started)
        for i, s in enumerate(batch):
            s.failure = failure
            if failure is None:
                s.result = results[i]
            if s.gate is not None:
                s.gate.release()
            elif s.then is not None:
                try:
                    s.then(failure)
                except Exception as exc:
                    log.error("group_commit_callback_failed", name=self.name, error=repr(exc)[:300])
        metrics.batch_done()

    def close(self, timeout: float) -> bool:
        """Write what is pending, stop the flusher; False if it did not finish in time."""
        with self._mutex:
            self._closed = True
            thread = self._thread
            if self._sleeping:
                self._sleeping = False
                self._wake.release()
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()


class Writers:
    """The batched writes of one process: workflow outcomes and step checkpoints, each kind
    with its own flusher thread. One service: start() starts both, stop() writes what is
    pending and stops them."""

    name = "group-commit"

    def __init__(self, db: SystemDatabase) -> None:
        self.outcomes: GroupCommit[Completion, None] = GroupCommit(self._complete, name="dbos-outcomes")
        self.checkpoints: GroupCommit[Checkpoint, Ownership | None] = GroupCommit(
            db.steps.record, name="dbos-checkpoints")
        self.enqueues: GroupCommit[tuple[NewWorkflow, bool], Inserted | None] = GroupCommit(
            db.workflows.enqueue, name="dbos-enqueues", inline=True)
        self._db = db

    def _complete(self, batch: list[Completion]) -> list[None]:
        self._db.workflows.complete(batch)
        return [None] * len(batch)

    def start(self) -> None:
        self.outcomes.start()
        self.checkpoints.start()
        self.enqueues.start()

    def stop(self, timeout: float = 5.0) -> bool:
        return self.enqueues.close(timeout) & self.outcomes.close(timeout) & self.checkpoints.close(timeout)

"""Streams: DBOS.write_stream, close_stream, read_stream and read_stream_offset.

A stream is an append-only sequence of values per (workflow, key), in offset order. A write
from a workflow is an operation (`DBOS.writeStream`, `DBOS.closeStream`) checkpointed in the
same statement as the value, so it lands exactly once, also when the workflow is replayed or
recovered; a write from a step is fenced by the owner token but, like the step itself, at
least once (every attempt writes, as in DBOS).

A reader yields values until the close marker, or until the writer is no longer active with
nothing left to read. It waits on NOTIFY (`s:<workflow>::<key>` for a value, `c:<workflow>`
for the writer's completion) and re-reads on a polling backstop. Read from workflow code, every
value delivered is checkpointed as a `DBOS.readStream` operation before it is yielded (the end
and a timeout too), so a replay yields what the first run read, not what the stream holds
now. StreamReader is a plain iterator with a blocking `__next__`: an async twin can run it in
a thread.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Generator
from typing import Any, NoReturn

from .context import WorkflowContext, current_step, current_workflow
from .db.listener import wake_key
from .db.records import StepRecord
from .db.streams import StreamWrite
from .errors import (
    DBOSNonExistentWorkflowError,
    DBOSStreamTimeoutError,
    DBOSWorkersError,
    DBOSWorkflowCancelledError,
)
from .handle import BACKSTOP_SEC
from .messages import _text
from .runtime import Runtime
from .steps import check_cancelled, ensure_owner, record_operation, replay

STREAM_CLOSED = "__DBOS_STREAM_CLOSED__"  # a reader's checkpoint of the end of the stream
READ_BATCH = 100
ACTIVE = frozenset({"ENQUEUED", "PENDING", "DELAYED"})


def write_stream(rt: Runtime, key: str, value: Any) -> None:
    _write(rt, "write_stream", "DBOS.writeStream", key, rt.serializer.serialize(value))


def close_stream(rt: Runtime, key: str) -> None:
    _write(rt, "close_stream", "DBOS.closeStream", key, None)


def _write(rt: Runtime, api: str, name: str, key: str, body: str | None) -> None:
    ctx = current_workflow()
    if ctx is None:
        raise DBOSWorkersError(f"{api}() must be called from within a workflow or step")
    _text("stream key", key)
    serialization = None if body is None else rt.serializer.name()
    step = current_step()
    if step is not None:  # fenced, not recorded: the step's own checkpoint covers it
        ensure_owner(ctx, rt.db.streams.write(StreamWrite(
            ctx.workflow_id, ctx.owner_token, key, body, serialization, step.step_id)))
        return
    check_cancelled(rt, ctx)
    fid = ctx.next_function_id()
    done, _ = replay(rt, ctx, fid, name)
    if done:
        return
    write = StreamWrite(ctx.workflow_id, ctx.owner_token, key, body, serialization, fid,
                        record_as=name, started_at_ms=rt.clock.now_ms())
    ensure_owner(ctx, rt.db.streams.write(write))
    ctx.recorded[fid] = StepRecord(fid, name, None, None)


def _check_waits(polling_interval_sec: float | None, timeout_seconds: float | None) -> None:
    if timeout_seconds is not None and timeout_seconds < 0:
        raise ValueError(f"timeout_seconds must not be negative, got {timeout_seconds}")
    if polling_interval_sec is not None and (
            not math.isfinite(polling_interval_sec) or polling_interval_sec < 0.001):
        raise ValueError("polling_interval_sec must be a finite number at least 0.001 seconds, "
                         f"got {polling_interval_sec}")


class StreamReader:
    """Iterates over one stream from `offset` on (see the module docstring)."""

    def __init__(self, rt: Runtime, workflow_id: str, key: str, *, offset: int = 0,
                 polling_interval_sec: float | None = None, timeout_seconds: float | None = None,
                 function_name: str = "DBOS.readStream", batch: int = READ_BATCH) -> None:
        _text("workflow id", workflow_id)
        _text("stream key", key)
        _check_waits(polling_interval_sec, timeout_seconds)
        self.rt, self.workflow_id, self.key, self.offset = rt, workflow_id, key, offset
        self.poll = BACKSTOP_SEC if polling_interval_sec is None else polling_interval_sec
        self.timeout, self.function_name, self.batch = timeout_seconds, function_name, batch
        # Checkpointed only when read by workflow code (a step's own checkpoint covers its reads).
        self.ctx: WorkflowContext | None = current_workflow() if current_step() is None else None
        self._ahead: deque[str] = deque()  # serialized values read ahead of offset
        self._watch = contextlib.ExitStack()
        self._woken: threading.Event | None = None
        self._ended = False

    def __iter__(self) -> StreamReader:
        return self

    def __next__(self) -> Any:
        if self._ended:
            raise StopIteration
        if self.ctx is not None:
            return self._next_recorded(self.ctx)
        body = self._next_body()
        if body is None:
            self._end()
        self.offset += 1
        return self.rt.serializer.deserialize(body)

    def close(self) -> None:
        self._ended = True
        self._watch.close()

    def _end(self) -> NoReturn:
        self.close()
        raise StopIteration

    def _next_recorded(self, ctx: WorkflowContext) -> Any:
        rt, name = self.rt, self.function_name
        check_cancelled(rt, ctx)
        fid = ctx.next_function_id()
        done, value = replay(rt, ctx, fid, name)  # a recorded timeout is raised again here
        if done:
            if isinstance(value, str) and value == STREAM_CLOSED:
                self._end()
            self.offset += 1
            return value
        started = rt.clock.now_ms()
        try:
            body = self._next_body()
        except DBOSStreamTimeoutError as exc:
            record_operation(rt, ctx, fid, name, output=None, error=rt.serializer.serialize_error(exc),
                             started_at_ms=started)
            raise
        if body is None:  # the end is recorded too: a replay stops exactly where this read did
            record_operation(rt, ctx, fid, name, output=rt.serializer.serialize(STREAM_CLOSED),
                             error=None, started_at_ms=started)
            self._end()
        # Recorded before it is yielded: a crash after the workflow acted on it replays it.
        record_operation(rt, ctx, fid, name, output=body, error=None, started_at_ms=started)
        self.offset += 1
        return rt.serializer.deserialize(body)

    def _watching(self) -> threading.Event:
        if self._woken is None:
            self.rt.listen_done()
            self._woken = self._watch.enter_context(self.rt.waiters.watch(
                wake_key("s:", f"{self.workflow_id}::{self.key}"), wake_key("c:", self.workflow_id)))
        return self._woken

    def _next_body(self) -> str | None:
        """The serialized value at offset (waiting for it); None when the stream ended."""
        if self._ahead:
            return self._ahead.popleft()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout  # per value
        woken = self._watching()  # registered before the read: no notification is missed
        while True:
            woken.clear()
            got = self.rt.db.streams.read(self.workflow_id, self.key, self.offset, self.batch)
            if got.status is None:
                raise DBOSNonExistentWorkflowError(self.workflow_id)
            if got.values:
                for later in got.values[1:]:
                    if later is None:
                        break  # a close marker is read at its own offset only
                    self._ahead.append(later)
                return got.values[0]
            if got.status not in ACTIVE:  # one snapshot: nothing more can land after this
                return None
            woken.wait(self._wait_time(deadline))

    def _wait_time(self, deadline: float | None) -> float:
        wait = self.poll
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DBOSStreamTimeoutError(self.workflow_id, self.key, self.timeout)
            wait = min(wait, remaining)
        if self.ctx is not None:  # a reading workflow notices its own cancellation
            if self.ctx.cancelled.is_set():
                raise DBOSWorkflowCancelledError(self.ctx.workflow_id)
            wait = min(wait, BACKSTOP_SEC)
        return wait


def read_stream(rt: Runtime, workflow_id: str, key: str, *, offset: int = 0,
                polling_interval_sec: float | None = None,
                timeout_seconds: float | None = None) -> Generator[Any, None, None]:
    reader = StreamReader(rt, workflow_id, key, offset=offset, polling_interval_sec=polling_interval_sec,
                          timeout_seconds=timeout_seconds)
    try:
        yield from reader
    finally:
        reader.close()


def read_stream_offset(rt: Runtime, workflow_id: str, key: str, offset: int, *,
                       polling_interval_sec: float | None = None,
                       timeout_seconds: float | None = None) -> Any:
    """The one value at `offset`, waiting for it; DBOSStreamTimeoutError when the timeout
    passes or the stream ends before reaching it. From a workflow, one operation."""
    reader = StreamReader(rt, workflow_id, key, offset=offset, polling_interval_sec=polling_interval_sec,
                          timeout_seconds=timeout_seconds, function_name="DBOS.readStreamOffset", batch=1)
    try:
        for value in reader:
            return value
        raise DBOSStreamTimeoutError(workflow_id, key)
    finally:
        reader.close()

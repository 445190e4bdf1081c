"""read_stream_async and read_stream_offset_async: streams.StreamReader's rules (values in
offset order until the close or the writer's end; per-value timeout; from workflow code
every value, the end and a timeout are recorded as operations before they are yielded, so a
replay yields what the first run read), awaited on the loop and NOTIFY-woken."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from ..context import WorkflowContext, current_step, current_workflow
from ..db.listener import wake_key
from ..errors import DBOSNonExistentWorkflowError, DBOSStreamTimeoutError, DBOSWorkflowCancelledError
from ..handle import BACKSTOP_SEC
from ..messages import _text
from ..runtime import Runtime
from ..steps import replay
from ..streams import ACTIVE, READ_BATCH, STREAM_CLOSED, _check_waits
from .steps import check_cancelled, record_operation
from .waits import listen_done
from .wake import LoopWake


class _End(Exception):
    """The stream ended (closed, or its writer is no longer active)."""


class AsyncStreamReader:
    def __init__(self, rt: Runtime, workflow_id: str, key: str, *, offset: int,
                 polling_interval_sec: float | None, timeout_seconds: float | None,
                 function_name: str = "DBOS.readStream", batch: int = READ_BATCH) -> None:
        _text("workflow id", workflow_id)
        _text("stream key", key)
        _check_waits(polling_interval_sec, timeout_seconds)
        self.rt, self.workflow_id, self.key, self.offset = rt, workflow_id, key, offset
        self.poll = BACKSTOP_SEC if polling_interval_sec is None else polling_interval_sec
        self.timeout, self.function_name, self.batch = timeout_seconds, function_name, batch
        self.ctx: WorkflowContext | None = current_workflow() if current_step() is None else None
        self._ahead: deque[str] = deque()
        self.wake: LoopWake | None = None

    async def next(self) -> Any:
        """The next value; _End when the stream ended."""
        if self.ctx is not None:
            return await self._next_recorded(self.ctx)
        body = await self._next_body()
        if body is None:
            raise _End()
        self.offset += 1
        return self.rt.serializer.deserialize(body)

    async def _next_recorded(self, ctx: WorkflowContext) -> Any:
        rt, name = self.rt, self.function_name
        fid = ctx.next_function_id()  # before any await (call order)
        await check_cancelled(rt, ctx)
        done, value = replay(rt, ctx, fid, name)
        if done:
            if isinstance(value, str) and value == STREAM_CLOSED:
                raise _End()
            self.offset += 1
            return value
        started = rt.clock.now_ms()
        try:
            body = await self._next_body()
        except DBOSStreamTimeoutError as exc:
            await record_operation(rt, ctx, fid, name, output=None,
                                   error=rt.serializer.serialize_error(exc), started_at_ms=started)
            raise
        if body is None:
            await record_operation(rt, ctx, fid, name, output=rt.serializer.serialize(STREAM_CLOSED),
                                   error=None, started_at_ms=started)
            raise _End()
        await record_operation(rt, ctx, fid, name, output=body, error=None, started_at_ms=started)
        self.offset += 1
        return rt.serializer.deserialize(body)

    async def _next_body(self) -> str | None:
        if self._ahead:
            return self._ahead.popleft()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        assert self.wake is not None
        while True:
            self.wake.clear()
            got = await self.rt.aio.db.stream_read(self.workflow_id, self.key, self.offset, self.batch)
            if got.status is None:
                raise DBOSNonExistentWorkflowError(self.workflow_id)
            if got.values:
                for later in got.values[1:]:
                    if later is None:
                        break
                    self._ahead.append(later)
                return got.values[0]
            if got.status not in ACTIVE:
                return None
            await self.wake.wait_async(self._wait_time(deadline))

    def _wait_time(self, deadline: float | None) -> float:
        wait = self.poll
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DBOSStreamTimeoutError(self.workflow_id, self.key, self.timeout)
            wait = min(wait, remaining)
        if self.ctx is not None:
            if self.ctx.cancelled.is_set():
                raise DBOSWorkflowCancelledError(self.ctx.workflow_id)
            wait = min(wait, BACKSTOP_SEC)
        return wait

    def keys(self) -> tuple[str, str]:
        return wake_key("s:", f"{self.workflow_id}::{self.key}"), wake_key("c:", self.workflow_id)


async def read_stream(rt: Runtime, workflow_id: str, key: str, *, offset: int = 0,
                      polling_interval_sec: float | None = None,
                      timeout_seconds: float | None = None) -> AsyncIterator[Any]:
    reader = AsyncStreamReader(rt, workflow_id, key, offset=offset,
                               polling_interval_sec=polling_interval_sec, timeout_seconds=timeout_seconds)
    await listen_done(rt)
    reader.wake = LoopWake()
    with rt.waiters.watch(*reader.keys(), event=reader.wake):
        while True:
            try:
                value = await reader.next()
            except _End:
                return
            yield value


async def read_stream_offset(rt: Runtime, workflow_id: str, key: str, offset: int, *,
                             polling_interval_sec: float | None = None,
                             timeout_seconds: float | None = None) -> Any:
    reader = AsyncStreamReader(rt, workflow_id, key, offset=offset,
                               polling_interval_sec=polling_interval_sec, timeout_seconds=timeout_seconds,
                               function_name="DBOS.readStreamOffset", batch=1)
    await listen_done(rt)
    reader.wake = LoopWake()
    with rt.waiters.watch(*reader.keys(), event=reader.wake):
        try:
            return await reader.next()
        except _End:
            raise DBOSStreamTimeoutError(workflow_id, key) from None

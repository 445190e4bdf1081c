"""The awaited waits: a workflow's outcome, recv, get_event, the first of several workflows
and stream values. Each registers a LoopWake with the process's NOTIFY waiters *before* it
reads (a notification in between is not missed), re-reads on the polling backstop, and
never blocks the loop; an async workflow's cancellation wakes it too."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from ..context import current_step, current_workflow
from ..db.listener import wake_key
from ..db.records import Checkpoint, StepRecord
from ..errors import (
    DBOSNonExistentWorkflowError,
    DBOSWorkersError,
    DBOSWorkflowCancelledError,
    MissingReferenceError,
)
from ..handle import BACKSTOP_SEC, WorkflowTimeoutError, outcome_of
from ..messages import _text, _topic
from ..runtime import Runtime
from ..steps import ensure_owner, replay
from .steps import check_cancelled, durable_timeout, operation, record_operation
from .wake import AsyncCancelFlag, LoopWake

LISTEN_WAIT_SEC = 5.0
# recv/get_event re-read on this backstop (NOTIFY wakes them at once; a listener reconnect
# wakes every waiter to catch up): thousands of waiting workflows per process must not
# poll the database every second each.
WAIT_BACKSTOP_SEC = 10.0


async def listen_done(rt: Runtime) -> None:
    """Runtime.listen_done without blocking: the LISTEN is issued by the listener thread."""
    ready = rt.listener.subscribe(rt.settings.done_channel)
    deadline = time.monotonic() + LISTEN_WAIT_SEC
    while not ready.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


def _cancel_wakes(wake: LoopWake) -> contextlib.AbstractContextManager[Any]:
    """In an async workflow, its cancellation sets `wake` too while inside."""
    ctx = current_workflow()
    if ctx is not None and isinstance(ctx.cancelled, AsyncCancelFlag):
        return ctx.cancelled.wakes(wake)
    return contextlib.nullcontext()


async def wait_outcome(rt: Runtime, workflow_id: str, timeout: float | None = None,
                       poll: float = BACKSTOP_SEC) -> Any:
    deadline = None if timeout is None else time.monotonic() + timeout
    await listen_done(rt)
    wake = LoopWake()
    with rt.waiters.watch(wake_key("c:", workflow_id), event=wake):
        while True:
            row = await rt.aio.db.workflow_outcome(workflow_id)
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
            await wake.wait_async(wait)
            wake.clear()


async def send(rt: Runtime, destination_id: str, message: Any, topic: str | None,
               idempotency_key: str | None = None) -> None:
    _text("destination workflow id", destination_id)
    body, t = rt.serializer.serialize(message), _topic(topic)

    async def insert(ctx: Any, fid: int) -> None:
        if idempotency_key is not None:
            message_id = f"{_text('idempotency key', idempotency_key)}::{destination_id}"
        elif ctx is not None:
            message_id = f"{ctx.workflow_id}-{fid}"
        else:
            message_id = uuid.uuid4().hex
        try:
            await rt.aio.db.message_send(message_id, destination_id, t, body)
        except MissingReferenceError:
            raise DBOSNonExistentWorkflowError(destination_id) from None

    await operation(rt, "DBOS.send", insert)


async def recv(rt: Runtime, topic: str | None, timeout_seconds: float) -> Any:
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        raise DBOSWorkersError("DBOS.recv must be called from a workflow (not a step)")
    fid, timeout_fid = ctx.next_function_id(), ctx.next_function_id()  # before any await (call order)
    await check_cancelled(rt, ctx)
    done, value = replay(rt, ctx, fid, "DBOS.recv")
    if done:
        return value
    t = _topic(topic)
    deadline = time.monotonic() + await durable_timeout(rt, ctx, timeout_fid, timeout_seconds)
    checkpoint = Checkpoint(ctx.workflow_id, ctx.owner_token, fid, "DBOS.recv", None, None, None,
                            rt.clock.now_ms())
    timeout_value = rt.serializer.serialize(None)
    await listen_done(rt)
    wake = LoopWake()
    with _cancel_wakes(wake), rt.waiters.watch(wake_key("m:", f"{ctx.workflow_id}::{t}"), event=wake):
        while True:
            got = await rt.aio.db.message_receive(
                checkpoint, t, timed_out=time.monotonic() >= deadline,
                check=lambda owner: ensure_owner(ctx, owner), timeout_value=timeout_value)
            if got.found:
                ctx.recorded[fid] = StepRecord(fid, "DBOS.recv", got.output, None)
                return rt.serializer.deserialize(got.output) if got.output is not None else None
            if ctx.cancelled.is_set():
                raise DBOSWorkflowCancelledError(ctx.workflow_id)
            await wake.wait_async(max(0.0, min(WAIT_BACKSTOP_SEC, deadline - time.monotonic())))
            wake.clear()
            await check_cancelled(rt, ctx)


async def set_event(rt: Runtime, key: str, value: Any) -> None:
    ctx = current_workflow()
    if ctx is None:
        raise DBOSWorkersError("DBOS.set_event must be called from a workflow or step")
    _text("event key", key)
    body = rt.serializer.serialize(value)

    async def upsert(_: Any, __: int) -> None:
        await rt.aio.db.event_set(ctx.workflow_id, key, body)

    if current_step() is not None:
        await upsert(None, 0)
    else:
        await operation(rt, "DBOS.setEvent", upsert)


async def get_event(rt: Runtime, workflow_id: str, key: str, timeout_seconds: float) -> Any:
    _text("workflow id", workflow_id)
    _text("event key", key)
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        return await _wait_event(rt, workflow_id, key, timeout_seconds)
    fid, timeout_fid = ctx.next_function_id(), ctx.next_function_id()  # before any await (call order)
    await check_cancelled(rt, ctx)
    done, value = replay(rt, ctx, fid, "DBOS.getEvent")
    if done:
        return value
    remaining = await durable_timeout(rt, ctx, timeout_fid, timeout_seconds)
    started = rt.clock.now_ms()
    value = await _wait_event(rt, workflow_id, key, remaining)
    await record_operation(rt, ctx, fid, "DBOS.getEvent", output=rt.serializer.serialize(value),
                           error=None, started_at_ms=started, defer=True)
    return value


async def _wait_event(rt: Runtime, workflow_id: str, key: str, timeout_seconds: float) -> Any:
    deadline = time.monotonic() + timeout_seconds
    await listen_done(rt)
    wake = LoopWake()
    with _cancel_wakes(wake), rt.waiters.watch(wake_key("e:", f"{workflow_id}::{key}"), event=wake):
        while True:
            value = await rt.aio.db.event_get(workflow_id, key)
            if value is not None:
                return rt.serializer.deserialize(value)
            ctx = current_workflow()
            if ctx is not None and ctx.cancelled.is_set():
                raise DBOSWorkflowCancelledError(ctx.workflow_id)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await wake.wait_async(min(WAIT_BACKSTOP_SEC, remaining))
            wake.clear()

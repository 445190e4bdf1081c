"""The async twins of the bulk, event, stream-write and wait-first calls (comms_api.py's
functions, awaited on the caller's loop over the async pool)."""

from __future__ import annotations

import uuid
from typing import Any

from ..context import current_step, current_workflow
from ..db.listener import wake_key
from ..db.records import StepRecord
from ..db.streams import StreamWrite
from ..errors import DBOSNonExistentWorkflowError, DBOSWorkersError, MissingReferenceError
from ..handle import BACKSTOP_SEC
from ..messages import SendMessage, _text, _topic
from ..runtime import Runtime
from ..steps import ensure_owner, replay
from .handle import WorkflowHandleAsync
from .steps import check_cancelled, operation
from .waits import listen_done
from .wake import LoopWake


async def send_bulk(rt: Runtime, batch: list[SendMessage]) -> None:
    keys = [m.idempotency_key for m in batch if m.idempotency_key]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise DBOSWorkersError(f"send_bulk received duplicate idempotency keys: {', '.join(duplicates)}")
    rows = [(_text("destination workflow id", m.destination_id), _topic(m.topic),
             rt.serializer.serialize(m.message), m.idempotency_key) for m in batch]

    async def insert(ctx: Any, fid: int) -> None:
        ids = []
        for i, (dest, _, _, key) in enumerate(rows):
            if key is not None:
                ids.append(f"{_text('idempotency key', key)}::{dest}")
            else:
                ids.append(f"{ctx.workflow_id}-{fid}-{i}" if ctx is not None else uuid.uuid4().hex)
        if not rows:
            return
        try:
            await rt.aio.db.message_send_batch(ids, [r[0] for r in rows], [r[1] for r in rows],
                                               [r[2] for r in rows])
        except MissingReferenceError:
            raise DBOSNonExistentWorkflowError(", ".join(sorted({r[0] for r in rows}))) from None

    await operation(rt, "DBOS.send_bulk", insert)


async def get_all_events(rt: Runtime, workflow_id: str) -> dict[str, Any]:
    _text("workflow id", workflow_id)

    async def read(_: Any, __: int) -> dict[str, Any]:
        return {k: rt.serializer.deserialize(v) for k, v in (await rt.aio.db.events(workflow_id)).items()}

    return await operation(rt, "DBOS.get_events", read)  # type: ignore[no-any-return]


async def write_stream(rt: Runtime, api: str, name: str, key: str, body: str | None) -> None:
    """streams._write, awaited: fenced by the owner token, checkpointed from a workflow."""
    ctx = current_workflow()
    if ctx is None:
        raise DBOSWorkersError(f"{api}() must be called from within a workflow or step")
    _text("stream key", key)
    serialization = None if body is None else rt.serializer.name()
    step = current_step()
    if step is not None:
        ensure_owner(ctx, await rt.aio.db.stream_write(StreamWrite(
            ctx.workflow_id, ctx.owner_token, key, body, serialization, step.step_id)))
        return
    fid = ctx.next_function_id()  # before any await (call order)
    await check_cancelled(rt, ctx)
    done, _ = replay(rt, ctx, fid, name)
    if done:
        return
    write = StreamWrite(ctx.workflow_id, ctx.owner_token, key, body, serialization, fid,
                        record_as=name, started_at_ms=rt.clock.now_ms())
    ensure_owner(ctx, await rt.aio.db.stream_write(write))
    ctx.recorded[fid] = StepRecord(fid, name, None, None)


async def wait_first(rt: Runtime, handles: list[WorkflowHandleAsync[Any]], *,
                     polling_interval_sec: float = BACKSTOP_SEC) -> WorkflowHandleAsync[Any]:
    if not handles:
        raise ValueError("handles must not be empty")
    ids = [h.workflow_id for h in handles]
    if len(set(ids)) != len(ids):
        raise ValueError("handles must not contain duplicate workflow IDs")
    by_id = {h.workflow_id: h for h in handles}

    async def wait(_: Any, __: int) -> str:
        await listen_done(rt)
        wake = LoopWake()
        with rt.waiters.watch(*(wake_key("c:", i) for i in ids), event=wake):
            while True:
                first = await rt.aio.db.workflow_first_finished(ids)
                if first is not None:
                    return first
                await wake.wait_async(polling_interval_sec)
                wake.clear()

    return by_id[await operation(rt, "DBOS.waitFirst", wait)]

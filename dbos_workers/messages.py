"""send/recv (exactly-once delivery) and set_event/get_event, woken by NOTIFY."""

from __future__ import annotations

import functools
import time
import uuid
from typing import Any

from .context import current_step, current_workflow
from .db.listener import wake_key
from .db.repository import MissingReferenceError, RollbackSignal, Tx
from .errors import DBOSNonExistentWorkflowError, DBOSWorkersError, DBOSWorkflowCancelledError
from .handle import BACKSTOP_SEC
from .runtime import Runtime
from .steps import check_cancelled, ensure_owner, operation, replay

NULL_TOPIC = "__null__topic__"


def _text(kind: str, value: object) -> str:
    """Topics, keys and ids are stored as Postgres TEXT: a string without NUL bytes."""
    if not isinstance(value, str):
        raise DBOSWorkersError(f"{kind} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise DBOSWorkersError(f"{kind} must not contain NUL bytes")
    return value


def _topic(topic: str | None) -> str:
    return NULL_TOPIC if topic is None else _text("topic", topic)


def send(rt: Runtime, destination_id: str, message: Any, topic: str | None,
         idempotency_key: str | None = None) -> None:
    _text("destination workflow id", destination_id)
    body = rt.serializer.serialize(message)
    t = _topic(topic)

    def insert(ctx: Any, fid: int) -> None:
        # The idempotency key wins wherever it is given, scoped per destination as in DBOS:
        # two senders (workflows or not) with one key deliver once.
        if idempotency_key is not None:
            message_id = f"{_text('idempotency key', idempotency_key)}::{destination_id}"
        elif ctx is not None:
            message_id = f"{ctx.workflow_id}-{fid}"
        else:
            message_id = uuid.uuid4().hex
        try:
            rt.repo.all("message_send", message_id=message_id, destination_id=destination_id,
                        topic=t, message=body, now_ms=rt.clock.now_ms(),
                        channel=rt.settings.channel)
        except MissingReferenceError:
            raise DBOSNonExistentWorkflowError(destination_id) from None

    operation(rt, "DBOS.send", insert)


def recv(rt: Runtime, topic: str | None, timeout_seconds: float) -> Any:
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        raise DBOSWorkersError("DBOS.recv must be called from a workflow (not a step)")
    check_cancelled(rt, ctx)
    fid = ctx.next_function_id()
    done, value = replay(rt, ctx, fid, "DBOS.recv")
    if done:
        return value
    t = _topic(topic)
    deadline = time.monotonic() + timeout_seconds
    serializer, name = rt.serializer, "DBOS.recv"

    def consume(tx: Tx, timed_out: bool) -> tuple[bool, str | None]:
        row = None if timed_out else tx.one("message_consume", workflow_id=ctx.workflow_id, topic=t)
        if row is None and not timed_out:
            return False, None
        output = row["message"] if row else serializer.serialize(None)
        rec = tx.one("step_record", workflow_id=ctx.workflow_id, function_id=fid,
                     function_name=name, output=output, error=None, child_workflow_id=None,
                     started_at_ms=None, now_ms=rt.clock.now_ms(), owner_token=ctx.owner_token)
        ensure_owner(ctx, rec)
        if rec is not None and rec["written"] == 0:
            raise RollbackSignal((True, None))  # recorded by an earlier try: keep that one
        return True, output

    rt.listen_done()
    with rt.waiters.watch(wake_key("m:", f"{ctx.workflow_id}::{t}")) as woken:
        while True:
            timed_out = time.monotonic() >= deadline
            got, output = rt.repo.call(functools.partial(consume, timed_out=timed_out),
                                       transaction=True)
            if got:
                if output is None:
                    output = rt.repo.one("step_get", workflow_id=ctx.workflow_id, function_id=fid)["output"]  # type: ignore[index]
                ctx.recorded[fid] = {"function_name": name, "output": output, "error": None,
                                     "child_workflow_id": None}
                return serializer.deserialize(output) if output is not None else None
            if ctx.cancelled.is_set():
                raise DBOSWorkflowCancelledError(ctx.workflow_id)
            woken.wait(max(0.0, min(BACKSTOP_SEC, deadline - time.monotonic())))
            woken.clear()
            check_cancelled(rt, ctx)


def set_event(rt: Runtime, key: str, value: Any) -> None:
    ctx = current_workflow()
    if ctx is None:
        raise DBOSWorkersError("DBOS.set_event must be called from a workflow or step")
    _text("event key", key)
    body = rt.serializer.serialize(value)

    def upsert(_: Any, __: int) -> None:
        rt.repo.all("event_set", workflow_id=ctx.workflow_id, key=key, value=body,
                    channel=rt.settings.channel)

    if current_step() is not None:
        upsert(None, 0)
    else:
        operation(rt, "DBOS.setEvent", upsert)


def get_event(rt: Runtime, workflow_id: str, key: str, timeout_seconds: float) -> Any:
    _text("workflow id", workflow_id)
    _text("event key", key)
    def wait(_: Any, __: int) -> Any:
        deadline = time.monotonic() + timeout_seconds
        rt.listen_done()
        with rt.waiters.watch(wake_key("e:", f"{workflow_id}::{key}")) as woken:
            while True:
                row = rt.repo.one("event_get", workflow_id=workflow_id, key=key)
                if row is not None:
                    return rt.serializer.deserialize(row["value"])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                woken.wait(min(BACKSTOP_SEC, remaining))
                woken.clear()

    return operation(rt, "DBOS.getEvent", wait)

"""send/send_bulk/recv (exactly-once delivery) and set_event/get_event/get_all_events,
woken by NOTIFY."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from .context import current_step, current_workflow
from .db.listener import wake_key
from .db.records import Checkpoint, StepRecord
from .errors import (
    DBOSNonExistentWorkflowError,
    DBOSWorkersError,
    DBOSWorkflowCancelledError,
    MissingReferenceError,
)
from .handle import BACKSTOP_SEC
from .runtime import Runtime
from .steps import check_cancelled, durable_timeout, ensure_owner, operation, record_operation, replay

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


@dataclass
class SendMessage:
    """One message of DBOS.send_bulk."""

    destination_id: str
    message: Any
    topic: str | None = None
    idempotency_key: str | None = None


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
            rt.db.messages.send(message_id, destination_id, t, body)
        except MissingReferenceError:
            raise DBOSNonExistentWorkflowError(destination_id) from None

    operation(rt, "DBOS.send", insert)


def send_bulk(rt: Runtime, batch: list[SendMessage]) -> None:
    """Send every message in one transaction (all or none). An idempotency key is scoped per
    destination (`<key>::<destination>`); a key used twice in one batch is rejected. In a
    workflow the whole batch is one operation, `DBOS.send_bulk`."""
    keys = [m.idempotency_key for m in batch if m.idempotency_key]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise DBOSWorkersError(f"send_bulk received duplicate idempotency keys: {', '.join(duplicates)}")
    rows = [(_text("destination workflow id", m.destination_id), _topic(m.topic),
             rt.serializer.serialize(m.message), m.idempotency_key) for m in batch]

    def insert(ctx: Any, fid: int) -> None:
        ids = []
        for i, (dest, _, _, key) in enumerate(rows):
            if key is not None:
                ids.append(f"{_text('idempotency key', key)}::{dest}")
            else:  # deterministic in a workflow: a replay re-sends nothing
                ids.append(f"{ctx.workflow_id}-{fid}-{i}" if ctx is not None else uuid.uuid4().hex)
        if not rows:
            return
        try:
            rt.db.messages.send_batch(ids, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
        except MissingReferenceError:
            raise DBOSNonExistentWorkflowError(", ".join(sorted({r[0] for r in rows}))) from None

    operation(rt, "DBOS.send_bulk", insert)


def recv(rt: Runtime, topic: str | None, timeout_seconds: float) -> Any:
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        raise DBOSWorkersError("DBOS.recv must be called from a workflow (not a step)")
    check_cancelled(rt, ctx)
    fid = ctx.next_function_id()
    timeout_fid = ctx.next_function_id()  # the timeout, "DBOS.sleep" (as DBOS)
    done, value = replay(rt, ctx, fid, "DBOS.recv")
    if done:
        return value
    t = _topic(topic)
    deadline = time.monotonic() + durable_timeout(rt, ctx, timeout_fid, timeout_seconds)
    name = "DBOS.recv"
    checkpoint = Checkpoint(ctx.workflow_id, ctx.owner_token, fid, name, None, None, None,
                            rt.clock.now_ms())
    timeout_value = rt.serializer.serialize(None)
    rt.listen_done()
    with rt.waiters.watch(wake_key("m:", f"{ctx.workflow_id}::{t}")) as woken:
        while True:
            got = rt.db.messages.receive(checkpoint, t, timed_out=time.monotonic() >= deadline,
                                         check=lambda owner: ensure_owner(ctx, owner),
                                         timeout_value=timeout_value)
            if got.found:
                ctx.recorded[fid] = StepRecord(fid, name, got.output, None)
                return rt.serializer.deserialize(got.output) if got.output is not None else None
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
        rt.db.messages.set_event(ctx.workflow_id, key, body)

    if current_step() is not None:
        upsert(None, 0)
    else:
        operation(rt, "DBOS.setEvent", upsert)


def get_event(rt: Runtime, workflow_id: str, key: str, timeout_seconds: float) -> Any:
    """In a workflow: operation "DBOS.getEvent", its timeout the next one, "DBOS.sleep" (as
    DBOS); the value is recorded with the workflow's next write."""
    _text("workflow id", workflow_id)
    _text("event key", key)
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        return _wait_event(rt, workflow_id, key, timeout_seconds)
    check_cancelled(rt, ctx)
    fid = ctx.next_function_id()
    timeout_fid = ctx.next_function_id()
    done, value = replay(rt, ctx, fid, "DBOS.getEvent")
    if done:
        return value
    remaining = durable_timeout(rt, ctx, timeout_fid, timeout_seconds)
    started = rt.clock.now_ms()
    value = _wait_event(rt, workflow_id, key, remaining)
    record_operation(rt, ctx, fid, "DBOS.getEvent", output=rt.serializer.serialize(value), error=None,
                     started_at_ms=started, defer=True)
    return value


def _wait_event(rt: Runtime, workflow_id: str, key: str, timeout_seconds: float) -> Any:
    deadline = time.monotonic() + timeout_seconds
    rt.listen_done()
    with rt.waiters.watch(wake_key("e:", f"{workflow_id}::{key}")) as woken:
        while True:
            value = rt.db.messages.get_event(workflow_id, key)
            if value is not None:
                return rt.serializer.deserialize(value)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            woken.wait(min(BACKSTOP_SEC, remaining))
            woken.clear()


def get_all_events(rt: Runtime, workflow_id: str) -> dict[str, Any]:
    """Every event the workflow has set, with its latest value. In a workflow, an operation."""
    _text("workflow id", workflow_id)

    def read(_: Any, __: int) -> dict[str, Any]:
        return {k: rt.serializer.deserialize(v) for k, v in rt.db.messages.events(workflow_id).items()}

    return operation(rt, "DBOS.get_events", read)  # type: ignore[no-any-return]

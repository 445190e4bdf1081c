"""Running claimed or recovered rows, and finding PENDING work whose holder is dead.

Never take work from a live process: a holder is dead when it recorded a clean stop, or it
ran on this host and its pid is gone (or reused), or its lease (heartbeat) expired on the
database's clock.
"""

from __future__ import annotations

import uuid
from typing import Any

from .completer import Then
from .db.repository import Row
from .errors import DBOSWorkflowFunctionNotFoundError
from .proc import pid_alive
from .runtime import Runtime
from .workflow import complete, resume_context, run_detached


def holder_dead(rt: Runtime, row: Row, lease_sec: float) -> bool:
    """Known dead: stopped cleanly, gone from this host, or silent for a lease (measured on
    the database's clock: silent_ms)."""
    if row["owner_instance"] == rt.instance_id:
        return False
    if row["host"] is None or row["stopped_at"] is not None:
        return True
    if row["host"] == rt.host and not pid_alive(row["pid"], row["proc_start_ticks"], row["boot_id"]):
        return True
    return bool(row["silent_ms"] > lease_sec * 1000)


def dead_pending(rt: Runtime, executor_id: str) -> list[Row]:
    rows = rt.repo.all("workflow_pending_of_executor", executor_id=executor_id)
    with rt.active_lock:
        running = set(rt.active)
    return [r for r in rows if r["workflow_uuid"] not in running
            and holder_dead(rt, r, rt.settings.executor_lease_sec)]


def take_over(rt: Runtime, row: Row) -> tuple[Row, str] | None:
    token = uuid.uuid4().hex
    claimed = rt.repo.one("workflow_takeover", workflow_id=row["workflow_uuid"],
                          previous_token=row["owner_token"], owner_token=token,
                          owner_instance=rt.instance_id, executor_id=rt.executor_id,
                          now_ms=rt.clock.now_ms())
    return (claimed, token) if claimed else None


def execute(rt: Runtime, row: Row, token: str, on_durable: Then | None = None) -> bool:
    """Run a claimed/recovered row to completion in this thread (replaying its steps). With
    on_durable, the outcome may be written after this returns: True means on_durable will be
    called once it is (the caller must not consider the workflow finished before)."""
    from .context import WorkflowContext

    workflow_id = row["workflow_uuid"]
    stub = WorkflowContext(workflow_id=workflow_id, owner_token=token, name=row["name"], recorded={})
    max_attempts = row.get("max_recovery_attempts")
    if max_attempts is not None and row["recovery_attempts"] > max_attempts + 1:
        rt.repo.all("workflow_dead_letter", workflow_id=workflow_id, owner_token=token,
                    now_ms=rt.clock.now_ms(), channel=rt.settings.channel)
        rt.log.warning("workflow_dead_lettered", workflow_id=workflow_id,
                       attempts=row["recovery_attempts"])
        return False
    info = rt.registry.workflows.get(row["name"])
    if info is None:
        error = DBOSWorkflowFunctionNotFoundError(row["name"], " in this process")
        complete(rt, stub, "ERROR", None, rt.serializer.serialize_error(error))
        rt.log.error("workflow_function_not_found", workflow_id=workflow_id, name=row["name"])
        return False
    try:
        inputs: dict[str, Any] = rt.serializer.deserialize(row["inputs"])
        args, kwargs = tuple(inputs["args"]), dict(inputs["kwargs"])
    except Exception as exc:
        complete(rt, stub, "ERROR", None, rt.serializer.serialize_error(exc))
        return False
    ctx = resume_context(rt, row, token)
    ctx.on_durable = on_durable
    run_detached(rt, ctx, info, args, kwargs)
    return ctx.deferred


def recover_own(rt: Runtime, executor_id: str) -> list[str]:
    """Take over and restart (in rt's pool) this executor id's PENDING work whose holder died."""
    recovered = []
    for row in dead_pending(rt, executor_id):
        got = take_over(rt, row)
        if got is None:
            continue
        claimed, token = got
        rt.log.info("workflow_recovered", workflow_id=claimed["workflow_uuid"],
                    attempts=claimed["recovery_attempts"])
        rt.pool.submit(execute, rt, claimed, token)
        recovered.append(claimed["workflow_uuid"])
    return recovered

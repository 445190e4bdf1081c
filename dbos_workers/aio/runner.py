"""Running async workflows: the body under a workflow context on a loop, its outcome
awaited through the outcome group commit (the slot frees once it is durable), direct calls
on the caller's loop, and claimed rows on the worker's loop thread (the executor's claim ->
run -> group commit -> slot, with a task instead of a thread)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from .. import auth, metrics, tracing
from ..classes import meta_of
from ..context import (
    StartOptions,
    WorkflowContext,
    _options,
    current_step,
    current_workflow,
    enter_workflow,
    exit_workflow,
)
from ..db.records import ClaimedWorkflow, Completion, StepRecord
from ..errors import DBOSSerializationError, DBOSWorkflowCancelledError, WorkerDrainingError, WorkflowOwnershipLostError
from ..registry import WorkflowInfo
from ..runtime import Runtime
from ..workflow import Placement, claimed_context
from . import starting
from .steps import record_operation
from .wake import committed, install_flag

STOPPED = (WorkflowOwnershipLostError, WorkerDrainingError, DBOSWorkflowCancelledError)


async def run(rt: Runtime, ctx: WorkflowContext, info: WorkflowInfo, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Any:
    """Await the body and record its outcome (durable when this returns). Returns the result
    or raises the workflow's exception, as get_result would."""
    install_flag(ctx)
    rt.inflight.attach(ctx, on_loop=True)
    started = metrics.workflow_started(ctx.queue_name, info.name)
    span = tracing.start_workflow(ctx, info.name)
    token = enter_workflow(ctx)
    options_token = _options.set(StartOptions())
    identity_token = auth.enter(auth.Identity(ctx.authenticated_user, ctx.authenticated_roles,
                                              ctx.assumed_role))
    try:
        try:
            result = await _body(info, args, kwargs)
        except STOPPED:
            raise
        except Exception as exc:
            await complete(rt, ctx, "ERROR", None, rt.serializer.serialize_error(exc))
            raise
        try:
            output = rt.serializer.serialize(result)
        except DBOSSerializationError as exc:
            await complete(rt, ctx, "ERROR", None, rt.serializer.serialize_error(exc))
            raise
        await complete(rt, ctx, "SUCCESS", output, None)
        return result
    finally:
        auth.leave(identity_token)
        _options.reset(options_token)
        exit_workflow(token)
        metrics.workflow_ran(info.name, started)
        tracing.end_unwinding(span)
        rt.inflight.release(ctx.workflow_id, ctx.owner_token)


async def _body(info: WorkflowInfo, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    role = auth.check_roles(meta_of(info.func), info.name)
    with auth.assuming(role):
        return await info.func(*args, **kwargs)


async def complete(rt: Runtime, ctx: WorkflowContext, status: str, output: str | None,
                   error: str | None) -> None:
    """The outcome with the last step's deferred checkpoint, in the outcome group commit."""
    step, ctx.pending = ctx.pending, None
    tracing.outcome(status)
    await committed(rt.writers.outcomes, Completion(ctx.workflow_id, ctx.owner_token, status,
                                                    output, error, step))
    metrics.workflow_finished(ctx.queue_name, ctx.name, status, now=True)


async def run_detached(rt: Runtime, ctx: WorkflowContext, info: WorkflowInfo, args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> None:
    """Task entry point: the outcome is recorded, never re-raised."""
    try:
        await run(rt, ctx, info, args, kwargs)
    except WorkerDrainingError:
        pass
    except BaseException as exc:  # the outcome is stored; handles re-raise it
        rt.log.debug("workflow_finished_with_error", workflow_id=ctx.workflow_id,
                     error=type(exc).__name__)


async def run_claimed(rt: Runtime, claimed: ClaimedWorkflow, freed: Callable[[], None]) -> None:
    """A claimed (or recovered) async row, on the worker's loop, in a fresh context."""
    from ..worker.executor import _prepare

    try:
        prepared = _prepare(rt, claimed)
        if prepared is None:
            return
        ctx = await resume_context(rt, claimed)
        info, args, kwargs = prepared
        await contextvars.Context().run(_task, rt, ctx, info, args, kwargs)
    except Exception as exc:
        rt.log.error("workflow_execute_failed", workflow_id=claimed.workflow_id, error=repr(exc)[:300])
    finally:
        rt.inflight.release(claimed.workflow_id, claimed.owner_token)
        freed()


def submit_detached(rt: Runtime, ctx: WorkflowContext, info: WorkflowInfo, args: tuple[Any, ...],
                    kwargs: dict[str, Any], on_durable: Callable[[BaseException | None], None] | None) -> None:
    """An async workflow started from sync code (DBOS.start_workflow): a task on this
    process's loop thread, in a fresh context; on_durable(None) once its outcome is written."""

    async def body() -> None:
        try:
            await contextvars.Context().run(_task, rt, ctx, info, args, kwargs)
        finally:
            if on_durable is not None:
                on_durable(None)

    rt.aio.loop.submit(body())


def _task(rt: Runtime, ctx: WorkflowContext, info: WorkflowInfo, args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> Any:
    import asyncio

    return asyncio.ensure_future(run_detached(rt, ctx, info, args, kwargs))


async def resume_context(rt: Runtime, claimed: ClaimedWorkflow) -> WorkflowContext:
    recorded: dict[int, StepRecord] = {}
    if claimed.has_steps:
        recorded = {r.function_id: r for r in await rt.aio.db.steps_recorded(claimed.workflow_id)}
    return claimed_context(claimed, recorded)


async def invoke(rt: Runtime, info: WorkflowInfo, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A direct call, awaited on the caller's loop: run durably; an existing id awaits its
    outcome. In a workflow the child's outcome is the parent's next operation."""
    from .waits import wait_outcome

    parent = current_workflow() if current_step() is None else None
    reserved: list[int] = []  # the "DBOS.getResult" id, drawn with the start's (call order)

    def reserve() -> None:
        if parent is not None:
            reserved.append(parent.next_function_id())

    with auth.assuming(auth.check_roles(meta_of(info.func), info.name)):
        handle, ctx = await starting.start(rt, info, args, kwargs, Placement("inline"), after_id=reserve)
    started = rt.clock.now_ms()
    fid = reserved[0] if reserved else None
    try:
        if ctx is None:
            result = await wait_outcome(rt, handle.workflow_id)
        else:
            result = await run(rt, ctx, info, args, kwargs)
    except Exception as exc:
        await _record_get_result(rt, parent, fid, handle.workflow_id, started, None, exc)
        raise
    await _record_get_result(rt, parent, fid, handle.workflow_id, started, result, None)
    return result


async def _record_get_result(rt: Runtime, parent: WorkflowContext | None, fid: int | None,
                             child_id: str, started_ms: int, result: Any,
                             error: Exception | None) -> None:
    if parent is None or fid is None:
        return
    if fid in parent.recorded:
        return
    output = None if error is not None else rt.serializer.serialize(result)
    await record_operation(rt, parent, fid, "DBOS.getResult", output=output,
                           error=None if error is None else rt.serializer.serialize_error(error),
                           child_workflow_id=child_id, started_at_ms=started_ms, defer=True)

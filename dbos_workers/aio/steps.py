"""Steps, operations and durable sleeps of async workflows: steps.py's rules (replay by
function id, deferred last checkpoint, owner-token fencing, cancellation and drain at every
operation), with every write awaited through the group commit and every wait on the loop.
Async steps may be preemptible (cancelled at once when their workflow is cancelled) and
have a timeout (DBOSStepTimeoutError)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .. import metrics, tracing
from ..auth import assuming, check_roles
from ..classes import meta_of
from ..context import StepContext, WorkflowContext, current_step, current_workflow, enter_step, exit_step
from ..db.records import Checkpoint, StepRecord
from ..errors import (
    DBOSMaxStepRetriesExceeded,
    DBOSStepTimeoutError,
    DBOSWorkflowCancelledError,
    WorkerDrainingError,
    WorkflowOwnershipLostError,
)
from ..registry import StepOptions
from ..runtime import Runtime
from ..steps import _MAX_RETRY_SLEEP, SLEEP, confirm_lease, ensure_owner, replay
from .wake import AsyncCancelFlag, LoopWake, cancellable_sleep, committed

STOPS = (DBOSWorkflowCancelledError, WorkflowOwnershipLostError, WorkerDrainingError, asyncio.CancelledError)


async def flush_pending(rt: Runtime, ctx: WorkflowContext) -> None:
    checkpoint, ctx.pending = ctx.pending, None
    if checkpoint is not None:
        ensure_owner(ctx, await committed(rt.writers.checkpoints, checkpoint))


async def check_cancelled(rt: Runtime, ctx: WorkflowContext) -> None:
    await flush_pending(rt, ctx)
    if not rt.lease.holds_for(ctx.lease_checked):  # after an outage: off the loop (lease.py)
        await asyncio.to_thread(confirm_lease, rt, ctx)
    if rt.draining.is_set():
        raise WorkerDrainingError()
    if ctx.cancelled.is_set():
        raise DBOSWorkflowCancelledError(ctx.workflow_id)
    if ctx.deadline_ms is not None and rt.clock.now_ms() >= ctx.deadline_ms:
        await rt.aio.db.workflow_cancel(ctx.workflow_id)
        ctx.cancelled.set()
        raise DBOSWorkflowCancelledError(ctx.workflow_id)


async def record_operation(rt: Runtime, ctx: WorkflowContext, fid: int, name: str, *,
                           output: str | None, error: str | None, child_workflow_id: str | None = None,
                           started_at_ms: int | None = None, defer: bool = False,
                           completed_at_ms: int | None = None) -> None:
    await flush_pending(rt, ctx)
    checkpoint = Checkpoint(ctx.workflow_id, ctx.owner_token, fid, name, output, error,
                            child_workflow_id, started_at_ms, completed_at_ms)
    if defer:
        while ctx.pending is not None:  # a concurrent step (gather) deferred its own meanwhile
            await flush_pending(rt, ctx)
        ctx.pending = checkpoint
    else:
        ensure_owner(ctx, await committed(rt.writers.checkpoints, checkpoint))
    ctx.recorded[fid] = StepRecord(fid, name, output, error, child_workflow_id)


Compute = Callable[[WorkflowContext | None, int], Awaitable[Any]]


async def operation(rt: Runtime, name: str, compute: Compute, *,
                    child_workflow_id: str | None = None) -> Any:
    """Await compute(ctx, fid) once per workflow position and checkpoint its result."""
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        return await compute(None, 0)
    fid = ctx.next_function_id()  # before any await: concurrent operations get ids in call order
    await check_cancelled(rt, ctx)
    done, value = replay(rt, ctx, fid, name)
    if done:
        return value
    started = rt.clock.now_ms()
    try:
        value = await compute(ctx, fid)
    except Exception as exc:
        await record_operation(rt, ctx, fid, name, output=None, child_workflow_id=child_workflow_id,
                               error=rt.serializer.serialize_error(exc), started_at_ms=started)
        raise
    await record_operation(rt, ctx, fid, name, output=rt.serializer.serialize(value), error=None,
                           child_workflow_id=child_workflow_id, started_at_ms=started)
    return value


async def run_step(rt: Runtime, opts: StepOptions, func: Callable[..., Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any], fid: int | None = None) -> Any:
    """An async (or sync) step of the current async workflow, replayed when recorded."""
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        return await _run_body(func, args, kwargs)
    if fid is None:  # before any await: concurrent steps (gather) get ids in call order
        fid = ctx.next_function_id()
    await check_cancelled(rt, ctx)
    done, value = replay(rt, ctx, fid, opts.name)
    if done:
        return value
    started, t0 = rt.clock.now_ms(), time.perf_counter()
    span = tracing.start_step(opts.name, fid)
    try:
        role = check_roles(meta_of(func), opts.name)
        with assuming(role):
            result = await _attempts(rt, ctx, fid, opts, func, args, kwargs)
    except STOPS as exc:
        tracing.end(span, exc)
        raise
    except Exception as exc:
        metrics.step_ran(opts.name, t0)
        tracing.end(span, exc)
        await record_operation(rt, ctx, fid, opts.name, output=None,
                               error=rt.serializer.serialize_error(exc), started_at_ms=started, defer=True)
        raise
    metrics.step_ran(opts.name, t0)
    tracing.end(span)
    await record_operation(rt, ctx, fid, opts.name, output=rt.serializer.serialize(result), error=None,
                           started_at_ms=started, defer=True)
    return result


async def _call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = func(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


async def _run_body(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A step's body: awaited when async; a sync one (run_step_async of a plain function) runs
    in a thread, as DBOS does, so it does not block the loop (its checkpoint is awaited here)."""
    if inspect.iscoroutinefunction(func):
        return await func(*args, **kwargs)
    return await asyncio.to_thread(func, *args, **kwargs)


async def _attempts(rt: Runtime, ctx: WorkflowContext, fid: int, opts: StepOptions,
                    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    tries = opts.max_attempts if opts.retries_allowed else 1
    errors: list[Exception] = []
    delay = opts.interval_seconds
    for attempt in range(tries):
        token = enter_step(StepContext(fid, attempt, tries) if opts.retries_allowed else StepContext(fid))
        try:
            return await _guarded(ctx, opts, func, args, kwargs)
        except STOPS:
            raise
        except Exception as exc:
            if not opts.retries_allowed or (opts.should_retry is not None and not await _call(
                    opts.should_retry, (exc,), {})):
                raise
            errors.append(exc)
            rt.log.warning("step_attempt_failed", workflow_id=ctx.workflow_id, step=opts.name,
                           attempt=attempt + 1, of=tries, error=repr(exc)[:200])
            metrics.step_retried(opts.name)
        finally:
            exit_step(token)
        if attempt < tries - 1:
            if await cancellable_sleep(ctx, min(delay, _MAX_RETRY_SLEEP)):
                raise DBOSWorkflowCancelledError(ctx.workflow_id)
            await check_cancelled(rt, ctx)
            delay *= opts.backoff_rate
    raise DBOSMaxStepRetriesExceeded(opts.name, tries, errors)


async def _guarded(ctx: WorkflowContext, opts: StepOptions, func: Callable[..., Any],
                   args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """One try, under the step's preemption (its workflow's cancellation stops it at once)
    and timeout."""
    flag = ctx.cancelled
    if not (opts.preemptible and isinstance(flag, AsyncCancelFlag)) and opts.timeout_seconds is None:
        return await _run_body(func, args, kwargs)
    task = asyncio.ensure_future(_run_body(func, args, kwargs))
    wake = LoopWake()
    with (flag.wakes(wake) if opts.preemptible and isinstance(flag, AsyncCancelFlag) else _null(wake)):
        waiter = asyncio.ensure_future(wake.wait_async(None))
        try:
            await asyncio.wait({task, waiter}, timeout=opts.timeout_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.wait({task})
        if wake.is_set():
            raise DBOSWorkflowCancelledError(ctx.workflow_id)
        raise DBOSStepTimeoutError(opts.name, float(opts.timeout_seconds or 0))


class _null:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __enter__(self) -> Any:
        return self.value

    def __exit__(self, *_: object) -> None:
        return None


async def durable_sleep(rt: Runtime, seconds: float) -> None:
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        await asyncio.sleep(seconds)
        return
    if seconds <= 0:
        return
    fid = ctx.next_function_id()
    await check_cancelled(rt, ctx)
    remaining = await durable_timeout(rt, ctx, fid, seconds, ends_at_wake=True)
    if remaining > 0 and await cancellable_sleep(ctx, remaining):
        raise DBOSWorkflowCancelledError(ctx.workflow_id)


async def durable_timeout(rt: Runtime, ctx: WorkflowContext, fid: int, seconds: float, *,
                          ends_at_wake: bool = False) -> float:
    done, wake = replay(rt, ctx, fid, SLEEP)
    now = rt.clock.now_ms()
    if not done:
        wake = now / 1000 + seconds
        await record_operation(rt, ctx, fid, SLEEP, output=rt.serializer.serialize(wake), error=None,
                               started_at_ms=now, defer=not ends_at_wake,
                               completed_at_ms=int(wake * 1000) if ends_at_wake else None)
    return max(0.0, float(wake) - now / 1000)

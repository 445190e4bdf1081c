"""Steps and the other checkpointed operations (sleep, send, recv, events).

Every operation takes the next function id of its workflow. A recorded operation replays its
output or error; an unrecorded one runs and is checkpointed in one write that also checks the
owner token, so a stale execution stops at its next operation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from . import metrics, tracing
from .auth import assuming, check_roles
from .classes import meta_of
from .context import (
    StepContext,
    WorkflowContext,
    current_step,
    current_workflow,
    enter_step,
    exit_step,
)
from .db.records import Checkpoint, Ownership, StepRecord
from .errors import (
    DBOSMaxStepRetriesExceeded,
    DBOSUnexpectedStepError,
    DBOSWorkflowCancelledError,
    WorkerDrainingError,
    WorkflowOwnershipLostError,
)
from .registry import StepOptions
from .runtime import Runtime

_MAX_RETRY_SLEEP = 3600.0
SLEEP = "DBOS.sleep"


def flush_pending(rt: Runtime, ctx: WorkflowContext) -> None:
    """Write the deferred checkpoint of the previous step (before anything else happens)."""
    checkpoint, ctx.pending = ctx.pending, None
    if checkpoint is not None:
        ensure_owner(ctx, rt.writers.checkpoints.submit(checkpoint))


def check_cancelled(rt: Runtime, ctx: WorkflowContext) -> None:
    """At every operation: write the previous step's checkpoint, then stop here if the
    workflow was cancelled, passed its deadline, this process drains, or (after an outage
    longer than the lease) the work was taken back meanwhile."""
    flush_pending(rt, ctx)
    if not rt.lease.holds_for(ctx.lease_checked):
        confirm_lease(rt, ctx)
    if rt.draining.is_set():
        raise WorkerDrainingError()
    if ctx.cancelled.is_set():
        raise DBOSWorkflowCancelledError(ctx.workflow_id)
    if ctx.deadline_ms is not None and rt.clock.now_ms() >= ctx.deadline_ms:
        rt.db.workflows.cancel([ctx.workflow_id])
        ctx.cancelled.set()
        raise DBOSWorkflowCancelledError(ctx.workflow_id)


def confirm_lease(rt: Runtime, ctx: WorkflowContext) -> None:
    """The slow path of lease.py: renew the lease first (one renewal serves every thread
    waiting here), then, if it had lapsed since this execution last looked, re-read the row
    and stop when it is no longer ours."""
    lease, delay = rt.lease, 0.1
    with lease.renewing:
        while not lease.fresh():
            try:
                rt.heartbeat()
            except Exception as exc:
                rt.log.warning("lease_heartbeat_failed", error=str(exc)[:200], workflow_id=ctx.workflow_id)
                if rt.draining.is_set():
                    raise WorkerDrainingError() from exc
                if ctx.cancelled.wait(delay):
                    raise DBOSWorkflowCancelledError(ctx.workflow_id) from exc
                delay = min(delay * 2, 2.0)
    if ctx.lease_checked < lease.lapse_ended:
        checked = time.monotonic()
        ensure_owner(ctx, rt.db.workflows.owner(ctx.workflow_id))
        ctx.lease_checked = checked
        rt.log.info("lease_lapse_ownership_confirmed", workflow_id=ctx.workflow_id)


def record_operation(rt: Runtime, ctx: WorkflowContext, fid: int, name: str, *,
                     output: str | None, error: str | None, child_workflow_id: str | None = None,
                     started_at_ms: int | None = None, defer: bool = False,
                     completed_at_ms: int | None = None) -> None:
    """Checkpoint operation fid. With defer, the write waits for the workflow's next operation
    or its outcome and shares their statement: a step that is the last thing a workflow does
    costs no commit of its own. (A crash before that write re-runs the step, as a crash right
    after any step does: steps are at-least-once.)"""
    flush_pending(rt, ctx)
    checkpoint = Checkpoint(ctx.workflow_id, ctx.owner_token, fid, name, output, error,
                            child_workflow_id, started_at_ms, completed_at_ms)
    if defer:
        ctx.pending = checkpoint
    else:
        ensure_owner(ctx, rt.writers.checkpoints.submit(checkpoint))
    ctx.recorded[fid] = StepRecord(fid, name, output, error, child_workflow_id)


def ensure_owner(ctx: WorkflowContext, owner: Ownership | None) -> None:
    """Raise when a checkpoint found the workflow cancelled or owned by someone else."""
    if owner is None:
        raise WorkflowOwnershipLostError(ctx.workflow_id)
    if owner.status == "CANCELLED":
        ctx.cancelled.set()
        raise DBOSWorkflowCancelledError(ctx.workflow_id)
    if owner.status != "PENDING" or owner.owner_token != ctx.owner_token:
        raise WorkflowOwnershipLostError(ctx.workflow_id)
    # written == 0 with us still the owner: an earlier try of this same write committed.


def replay(rt: Runtime, ctx: WorkflowContext, fid: int, name: str) -> tuple[bool, Any]:
    """(True, value) when operation fid is recorded; raises its recorded error."""
    recorded = ctx.recorded.get(fid)
    if recorded is None:
        return False, None
    if recorded.function_name != name:
        raise DBOSUnexpectedStepError(ctx.workflow_id, fid, name, recorded.function_name)
    if recorded.error is not None:
        raise rt.serializer.deserialize_error(recorded.error)
    if recorded.output is None:
        return True, None
    return True, rt.serializer.deserialize(recorded.output)


def operation(rt: Runtime, name: str, compute: Callable[[WorkflowContext, int], Any], *,
              child_workflow_id: str | None = None) -> Any:
    """Run compute(ctx, fid) once per workflow position and checkpoint its result."""
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        return compute(None, 0)  # type: ignore[arg-type]
    check_cancelled(rt, ctx)
    fid = ctx.next_function_id()
    done, value = replay(rt, ctx, fid, name)
    if done:
        return value
    started = rt.clock.now_ms()
    try:
        value = compute(ctx, fid)
    except Exception as exc:
        record_operation(rt, ctx, fid, name, output=None, child_workflow_id=child_workflow_id,
                         error=rt.serializer.serialize_error(exc), started_at_ms=started)
        raise
    record_operation(rt, ctx, fid, name, output=rt.serializer.serialize(value), error=None,
                     child_workflow_id=child_workflow_id, started_at_ms=started)
    return value


def run_step(rt: Runtime, opts: StepOptions, func: Callable[..., Any],
             args: tuple[Any, ...], kwargs: dict[str, Any], fid: int | None = None) -> Any:
    """Run func as a step of the current workflow at its next function id (or at `fid`, one
    drawn earlier by DBOS.reserve_step), replaying a recorded result."""
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        return func(*args, **kwargs)  # outside a workflow, or nested: a plain call
    check_cancelled(rt, ctx)
    if fid is None:
        fid = ctx.next_function_id()
    done, value = replay(rt, ctx, fid, opts.name)
    if done:
        return value
    started, t0 = rt.clock.now_ms(), time.perf_counter()
    span = tracing.start_step(opts.name, fid)
    try:
        role = check_roles(meta_of(func), opts.name)
        if role is None:  # the common case: no roles required, no context manager
            result = _attempts(rt, ctx, fid, opts, func, args, kwargs)
        else:
            with assuming(role):
                result = _attempts(rt, ctx, fid, opts, func, args, kwargs)
    except (DBOSWorkflowCancelledError, WorkflowOwnershipLostError, WorkerDrainingError) as exc:
        tracing.end(span, exc)
        raise
    except Exception as exc:
        metrics.step_ran(opts.name, t0)
        tracing.end(span, exc)
        record_operation(rt, ctx, fid, opts.name, output=None,
                         error=rt.serializer.serialize_error(exc), started_at_ms=started, defer=True)
        raise
    metrics.step_ran(opts.name, t0)
    tracing.end(span)
    record_operation(rt, ctx, fid, opts.name, output=rt.serializer.serialize(result), error=None,
                     started_at_ms=started, defer=True)
    return result


def _attempts(rt: Runtime, ctx: WorkflowContext, fid: int, opts: StepOptions,
              func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """One try, or with retries up to max_attempts (DBOS.step_status numbers them from 0)
    while should_retry (if given) says so; DBOSMaxStepRetriesExceeded once they run out."""
    if not opts.retries_allowed:
        token = enter_step(StepContext(fid, name=opts.name))
        try:
            return func(*args, **kwargs)
        finally:
            exit_step(token)
    errors: list[Exception] = []
    delay = opts.interval_seconds
    for attempt in range(opts.max_attempts):
        token = enter_step(StepContext(fid, attempt, opts.max_attempts, opts.name))
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if opts.should_retry is not None and not opts.should_retry(exc):
                raise
            errors.append(exc)
            rt.log.warning("step_attempt_failed", workflow_id=ctx.workflow_id, step=opts.name,
                           attempt=attempt + 1, of=opts.max_attempts, error=repr(exc)[:200])
            metrics.step_retried(opts.name)
        finally:
            exit_step(token)
        if attempt < opts.max_attempts - 1:
            if ctx.cancelled.wait(min(delay, _MAX_RETRY_SLEEP)):
                raise DBOSWorkflowCancelledError(ctx.workflow_id)
            check_cancelled(rt, ctx)
            delay *= opts.backoff_rate
    raise DBOSMaxStepRetriesExceeded(opts.name, opts.max_attempts, errors)


def durable_sleep(rt: Runtime, seconds: float) -> None:
    """DBOS.sleep: the wake-up time (epoch seconds) is recorded as step "DBOS.sleep", ending at
    the wake-up time, as DBOS; a recovered workflow sleeps only what is left."""
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        time.sleep(seconds)
        return
    if seconds <= 0:
        return
    check_cancelled(rt, ctx)
    fid = ctx.next_function_id()
    remaining = durable_timeout(rt, ctx, fid, seconds, ends_at_wake=True)
    if remaining > 0 and ctx.cancelled.wait(remaining):
        raise DBOSWorkflowCancelledError(ctx.workflow_id)


def durable_timeout(rt: Runtime, ctx: WorkflowContext, fid: int, seconds: float, *,
                    ends_at_wake: bool = False) -> float:
    """The seconds left of a durable wait at operation fid ("DBOS.sleep": a sleep, or the
    timeout of a recv or get_event, recorded before the wait as DBOS does). A timeout's record
    rides with the workflow's next write; a sleep's is written before it sleeps."""
    done, wake = replay(rt, ctx, fid, SLEEP)
    now = rt.clock.now_ms()
    if not done:
        wake = now / 1000 + seconds
        record_operation(rt, ctx, fid, SLEEP, output=rt.serializer.serialize(wake), error=None,
                         started_at_ms=now, defer=not ends_at_wake,
                         completed_at_ms=int(wake * 1000) if ends_at_wake else None)
    return max(0.0, float(wake) - now / 1000)

"""Steps and the other checkpointed operations (sleep, send, recv, events).

Every operation takes the next function id of its workflow. A recorded operation replays its
output or error; an unrecorded one runs and is checkpointed in one write that also checks the
owner token, so a stale execution stops at its next operation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

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


def flush_pending(rt: Runtime, ctx: WorkflowContext) -> None:
    """Write the deferred checkpoint of the previous step (before anything else happens)."""
    checkpoint, ctx.pending = ctx.pending, None
    if checkpoint is not None:
        ensure_owner(ctx, rt.writers.checkpoints.submit(checkpoint))


def check_cancelled(rt: Runtime, ctx: WorkflowContext) -> None:
    """At every operation: write the previous step's checkpoint, then stop here if the
    workflow was cancelled, passed its deadline, or this process drains."""
    flush_pending(rt, ctx)
    if rt.draining.is_set():
        raise WorkerDrainingError()
    if ctx.cancelled.is_set():
        raise DBOSWorkflowCancelledError(ctx.workflow_id)
    if ctx.deadline_ms is not None and rt.clock.now_ms() >= ctx.deadline_ms:
        rt.db.workflows.cancel(ctx.workflow_id)
        ctx.cancelled.set()
        raise DBOSWorkflowCancelledError(ctx.workflow_id)


def record_operation(rt: Runtime, ctx: WorkflowContext, fid: int, name: str, *,
                     output: str | None, error: str | None, child_workflow_id: str | None = None,
                     started_at_ms: int | None = None, defer: bool = False) -> None:
    """Checkpoint operation fid. With defer, the write waits for the workflow's next operation
    or its outcome and shares their statement: a step that is the last thing a workflow does
    costs no commit of its own. (A crash before that write re-runs the step, as a crash right
    after any step does: steps are at-least-once.)"""
    flush_pending(rt, ctx)
    checkpoint = Checkpoint(ctx.workflow_id, ctx.owner_token, fid, name, output, error,
                            child_workflow_id, started_at_ms)
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


def operation(rt: Runtime, name: str, compute: Callable[[WorkflowContext, int], Any]) -> Any:
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
        record_operation(rt, ctx, fid, name, output=None,
                         error=rt.serializer.serialize_error(exc), started_at_ms=started)
        raise
    record_operation(rt, ctx, fid, name, output=rt.serializer.serialize(value), error=None,
                     started_at_ms=started)
    return value


def run_step(rt: Runtime, opts: StepOptions, func: Callable[..., Any],
             args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        return func(*args, **kwargs)  # outside a workflow, or nested: a plain call
    check_cancelled(rt, ctx)
    fid = ctx.next_function_id()
    done, value = replay(rt, ctx, fid, opts.name)
    if done:
        return value
    started = rt.clock.now_ms()
    try:
        result = _attempts(rt, ctx, fid, opts, func, args, kwargs)
    except (DBOSWorkflowCancelledError, WorkflowOwnershipLostError, WorkerDrainingError):
        raise
    except Exception as exc:
        record_operation(rt, ctx, fid, opts.name, output=None,
                         error=rt.serializer.serialize_error(exc), started_at_ms=started, defer=True)
        raise
    record_operation(rt, ctx, fid, opts.name, output=rt.serializer.serialize(result), error=None,
                     started_at_ms=started, defer=True)
    return result


def _attempts(rt: Runtime, ctx: WorkflowContext, fid: int, opts: StepOptions,
              func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    max_attempts = opts.max_attempts if opts.retries_allowed else 1
    errors: list[BaseException] = []
    delay = opts.interval_seconds
    for attempt in range(1, max_attempts + 1):
        token = enter_step(StepContext(fid, attempt, max_attempts))
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if not opts.retries_allowed:
                raise
            errors.append(exc)
            rt.log.warning("step_attempt_failed", workflow_id=ctx.workflow_id, step=opts.name,
                           attempt=attempt, error=repr(exc)[:200])
        finally:
            exit_step(token)
        if attempt < max_attempts:
            if ctx.cancelled.wait(min(delay, _MAX_RETRY_SLEEP)):
                raise DBOSWorkflowCancelledError(ctx.workflow_id)
            check_cancelled(rt, ctx)
            delay *= opts.backoff_rate
    raise DBOSMaxStepRetriesExceeded(opts.name, max_attempts, errors)


def durable_sleep(rt: Runtime, seconds: float) -> None:
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        time.sleep(seconds)
        return
    wake_ms: int = operation(rt, "DBOS.sleep", lambda c, f: rt.clock.now_ms() + int(seconds * 1000))
    remaining = (wake_ms - rt.clock.now_ms()) / 1000
    if remaining > 0 and ctx.cancelled.wait(remaining):
        raise DBOSWorkflowCancelledError(ctx.workflow_id)

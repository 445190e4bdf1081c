"""Durable workflow execution: start (inline, in the thread pool, or enqueued), run a body
under a workflow context, and record its outcome once, fenced by the owner token."""

from __future__ import annotations

import contextvars
import inspect
import uuid
from dataclasses import dataclass
from typing import Any

from . import auth, metrics, starting, tracing
from .classes import meta_of, target_names
from .context import (
    StartOptions,
    WorkflowContext,
    _options,
    consume_workflow_id,
    current_step,
    current_workflow,
    enter_workflow,
    exit_workflow,
    start_options,
)
from .db.records import ClaimedWorkflow, Completion, Inserted, NewWorkflow, StepRecord
from .errors import (
    DBOSConfigError,
    DBOSQueueConfigError,
    DBOSQueueDeduplicatedError,
    DBOSSerializationError,
    DBOSWorkersError,
    DBOSWorkflowCancelledError,
    DBOSWorkflowIDInUseError,
    WorkerDrainingError,
    WorkflowOwnershipLostError,
)
from .groupcommit import Then
from .handle import WorkflowHandle, wait_outcome
from .registry import WorkflowInfo
from .runtime import Runtime
from .steps import flush_pending, record_operation

TERMINAL = frozenset({"SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"})


@dataclass(frozen=True)
class Placement:
    """Where a new workflow runs: inline in the caller, in this process's pool, or a queue."""

    mode: str  # "inline" | "pool" | "queue"
    queue_name: str | None = None


def _assign_id(rt: Runtime, parent: WorkflowContext | None) -> tuple[str, int | None]:
    explicit = consume_workflow_id()
    if parent is None:
        return explicit or str(uuid.uuid4()), None
    fid = parent.next_function_id()
    recorded = parent.recorded.get(fid)
    if recorded is not None and recorded.error is not None:  # the start failed (id in use, ...)
        raise rt.serializer.deserialize_error(recorded.error)
    if recorded is not None and recorded.child_workflow_id:
        return recorded.child_workflow_id, fid
    return explicit or f"{parent.workflow_id}-{fid}", fid


def _deadline(rt: Runtime, opts: StartOptions, parent: WorkflowContext | None,
              starts_now: bool) -> tuple[int | None, int | None]:
    """(timeout_ms, deadline_ms). Queued workflows get their deadline when claimed."""
    if opts.timeout_set:
        if opts.timeout_sec is None:
            return None, None
        timeout_ms = int(opts.timeout_sec * 1000)
        return timeout_ms, (rt.clock.now_ms() + timeout_ms) if starts_now else None
    if parent is not None and parent.deadline_ms is not None and not opts.debounced:
        return None, parent.deadline_ms  # (a debounced start waits longer than its parent may)
    return None, None


@dataclass(frozen=True)
class Target:
    """What a start records about the function's target (see classes.py)."""

    class_name: str | None = None
    config_name: str | None = None


def new_row(rt: Runtime, info: WorkflowInfo, workflow_id: str, inputs: str, placement: Placement,
            parent: WorkflowContext | None, target: Target = Target(),
            opts: StartOptions | None = None) -> NewWorkflow:
    """The row to insert for a start or an enqueue, under the options in effect (or `opts`)."""
    opts = opts or start_options()
    queued = placement.mode == "queue"
    timeout_ms, deadline_ms = _deadline(rt, opts, parent, starts_now=not queued)
    now = rt.clock.now_ms()
    delay_ms = int(opts.delay_seconds * 1000) if queued and opts.delay_seconds else None
    return NewWorkflow(
        workflow_id=workflow_id, status=("DELAYED" if delay_ms else "ENQUEUED") if queued else "PENDING",
        name=info.name, class_name=target.class_name, config_name=target.config_name, inputs=inputs,
        serialization=rt.serializer.name(), queue_name=placement.queue_name if queued else None,
        priority=(opts.priority or 0) if queued else 0,
        deduplication_id=opts.deduplication_id if queued else None,
        executor_id=None if queued else rt.executor_id,
        owner_token=None if queued else uuid.uuid4().hex,
        owner_instance=None if queued else rt.instance_id,
        application_name=rt.settings.name,
        recovery_attempts=0 if queued else 1, max_recovery_attempts=info.max_recovery_attempts,
        timeout_ms=timeout_ms, deadline_ms=deadline_ms,
        delay_until_ms=(now + delay_ms) if delay_ms else None,
        parent_workflow_id=parent.workflow_id if parent else None,
        started_at_ms=None if queued else now, is_debounced=queued and opts.debounced,
        debounce_deadline_ms=opts.debounce_deadline_ms if queued else None,
        **starting.extras(rt, opts, queued))


def start(rt: Runtime, info: WorkflowInfo, args: tuple[Any, ...], kwargs: dict[str, Any],
          placement: Placement, target: Target | None = None) -> tuple[WorkflowHandle[Any], WorkflowContext | None]:
    """Insert (or find) the workflow row. Returns its handle and, when this call created a
    row that runs here, the context to run it with (None: already exists, or queued). `args`
    include the instance (or class) of a method; its inputs leave it out (unless the target
    is given: enqueue by name)."""
    if current_step() is not None:
        raise DBOSWorkersError("workflows cannot be started or enqueued from inside a step")
    opts = start_options()
    starting.validate(opts, placement.mode == "queue")
    parent = current_workflow()
    if parent is not None:
        flush_pending(rt, parent)  # the parent's last step is durable before its child exists
    workflow_id, fid = _assign_id(rt, parent)
    started = rt.clock.now_ms()
    stored = args
    if target is None:
        target = Target(*target_names(meta_of(info.func), args))
        stored = args[1:] if target.class_name is not None else args
    new = new_row(rt, info, workflow_id, rt.serializer.serialize({"args": stored, "kwargs": kwargs}),
                   placement, parent, target)
    # a row that runs here is in the ledger before its insert commits (the orphan sweep)
    reserved = new.owner_token is not None and rt.inflight.reserve(workflow_id, new.owner_token)
    try:
        try:
            row, workflow_id = _insert(rt, new, opts, info)
        except (DBOSWorkflowIDInUseError, DBOSQueueDeduplicatedError) as exc:
            if parent is not None and fid is not None and fid not in parent.recorded:
                record_operation(rt, parent, fid, info.name, output=None,
                                 error=rt.serializer.serialize_error(exc), started_at_ms=started)
            raise
        if parent is not None and fid is not None and fid not in parent.recorded:
            record_operation(rt, parent, fid, info.name, output=None, error=None,
                             child_workflow_id=workflow_id, started_at_ms=started)
    except BaseException:
        if reserved:  # not run here: the row is not ours, or the orphan sweep hands it back
            rt.inflight.release(new.workflow_id, new.owner_token)
        raise
    handle: WorkflowHandle[Any] = WorkflowHandle(rt, workflow_id)
    if row is None or not row.inserted or new.owner_token is None:
        if reserved:
            rt.inflight.release(new.workflow_id, new.owner_token)
        return handle, None
    identity = auth.from_row(new.authenticated_user, new.authenticated_roles, new.assumed_role)
    return handle, WorkflowContext(
        workflow_id=workflow_id, owner_token=new.owner_token, name=info.name, recorded={},
        deadline_ms=new.deadline_ms, authenticated_user=identity.authenticated_user,
        authenticated_roles=identity.authenticated_roles, assumed_role=identity.assumed_role)


def _insert(rt: Runtime, new: NewWorkflow, opts: StartOptions,
            info: WorkflowInfo) -> tuple[Inserted | None, str]:
    notify = new.status == "ENQUEUED" and rt.coalescer.claim_inline(str(new.queue_name))
    new, span = tracing.start_enqueue(new)
    try:
        row, workflow_id = starting.insert(rt, new, opts, notify)
    finally:
        tracing.end_unwinding(span)
    if row is None and workflow_id == new.workflow_id:  # a concurrent insert committed after our snapshot
        found = rt.db.workflows.outcome(workflow_id)
        row = None if found is None else Inserted(False, found.status, info.name, found.output,
                                                  found.error, new.class_name, new.config_name)
    if row is not None and not row.inserted:
        starting.check_existing(row, new, opts.reuse_policy)
    return row, workflow_id


_unregistered_warned: set[str] = set()


def enqueue(rt: Runtime, queue_name: str, info: WorkflowInfo, args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> WorkflowHandle[Any]:
    """Enqueue on a queue by name. A queue not registered here is recorded all the same: the
    workflow runs once a process registers the queue (warned once per name)."""
    if not isinstance(queue_name, str) or not queue_name or "\x00" in queue_name or len(queue_name) > 255:
        raise DBOSConfigError(f"queue name must be a non-empty string (<= 255 chars), got {queue_name!r}")
    queue = rt.registry.queues.get(queue_name)
    if queue is None and queue_name not in _unregistered_warned:
        _unregistered_warned.add(queue_name)
        rt.log.warning("queue_not_registered", queue=queue_name,
                       hint="enqueued anyway; it runs once a process registers this queue")
    if queue is not None and queue.partitioned and start_options().queue_partition_key is None:
        raise DBOSQueueConfigError(f"queue {queue_name!r} is partitioned: enqueue with "
                                   "SetEnqueueOptions(queue_partition_key=...)")
    handle, _ = start(rt, info, args, kwargs, Placement("queue", queue_name))
    return handle


def run(rt: Runtime, ctx: WorkflowContext, info: WorkflowInfo, args: tuple[Any, ...],
        kwargs: dict[str, Any], on_durable: Then | None = None) -> Any:
    """Run a workflow body in this thread and record its outcome. Returns the result or
    raises the workflow's exception (as get_result would). Without on_durable the outcome is
    durable when this returns; with it, the outcome goes to the group commit without waiting
    and on_durable runs (in the flusher thread) once it is written, after the workflow left
    the in-flight ledger."""
    rt.inflight.attach(ctx)
    started = metrics.workflow_started(ctx.queue_name, info.name)
    span = tracing.start_workflow(ctx, info.name)
    token = enter_workflow(ctx)
    options_token = _options.set(StartOptions())
    identity_token = auth.enter(auth.Identity(ctx.authenticated_user, ctx.authenticated_roles,
                                              ctx.assumed_role))
    handed_over = False
    try:
        try:
            result = _body(info, args, kwargs)
        except (WorkflowOwnershipLostError, WorkerDrainingError, DBOSWorkflowCancelledError):
            raise
        except BaseException as exc:
            handed_over = complete(rt, ctx, "ERROR", None, rt.serializer.serialize_error(exc), on_durable)
            rt.log.warning("workflow_failed", workflow_id=ctx.workflow_id, workflow_name=ctx.name,
                           error=repr(exc)[:300])
            raise
        try:
            output = rt.serializer.serialize(result)
        except DBOSSerializationError as exc:
            handed_over = complete(rt, ctx, "ERROR", None, rt.serializer.serialize_error(exc), on_durable)
            raise
        handed_over = complete(rt, ctx, "SUCCESS", output, None, on_durable)
        return result
    finally:
        auth.leave(identity_token)
        _options.reset(options_token)
        exit_workflow(token)
        metrics.workflow_ran(info.name, started)
        tracing.end_unwinding(span)
        if not handed_over:
            rt.inflight.release(ctx.workflow_id, ctx.owner_token)


def complete(rt: Runtime, ctx: WorkflowContext, status: str, output: str | None,
             error: str | None, on_durable: Then | None = None) -> bool:
    """Record the outcome (fenced by the owner token; concurrent outcomes share one commit),
    with the last step's deferred checkpoint. True when handed over without waiting: the
    group commit then releases the workflow from the ledger and calls on_durable."""
    step, ctx.pending = ctx.pending, None
    tracing.outcome(status)
    outcome = Completion(ctx.workflow_id, ctx.owner_token, status, output, error, step)
    if on_durable is None:
        rt.writers.outcomes.submit(outcome)
        metrics.workflow_finished(ctx.queue_name, ctx.name, status, now=True)
        return False

    def durable(failure: BaseException | None) -> None:
        rt.inflight.release(ctx.workflow_id, ctx.owner_token)
        if failure is None:
            metrics.workflow_finished(ctx.queue_name, ctx.name, status)
        on_durable(failure)

    rt.writers.outcomes.submit_nowait(outcome, durable)
    return True


def run_detached(rt: Runtime, ctx: WorkflowContext, info: WorkflowInfo, args: tuple[Any, ...],
                 kwargs: dict[str, Any], on_durable: Then | None = None) -> None:
    """Thread entry point: a fresh context, exceptions already recorded, never re-raised."""
    if inspect.iscoroutinefunction(info.func):  # an async workflow: a task on the loop thread
        from .aio.runner import submit_detached

        submit_detached(rt, ctx, info, args, kwargs, on_durable)
        return
    try:
        contextvars.Context().run(run, rt, ctx, info, args, kwargs, on_durable)
    except WorkerDrainingError:
        pass
    except BaseException as exc:  # the outcome is stored; handles re-raise it
        rt.log.debug("workflow_finished_with_error", workflow_id=ctx.workflow_id,
                     error=type(exc).__name__)


def _body(info: WorkflowInfo, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The workflow function, under its required roles: a run whose identity holds none of
    them fails (DBOSNotAuthorizedError, recorded as its outcome, as DBOS)."""
    role = auth.check_roles(meta_of(info.func), info.name)
    if role is None:
        return info.func(*args, **kwargs)
    with auth.assuming(role):
        return info.func(*args, **kwargs)


def invoke(rt: Runtime, info: WorkflowInfo, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A direct call: run durably inline; an existing id returns (or awaits) its outcome. A
    caller without a required role is refused before anything is recorded. In a workflow, the
    child's outcome is recorded as the parent's next operation, "DBOS.getResult" (as DBOS)."""
    parent = current_workflow() if current_step() is None else None
    with auth.assuming(auth.check_roles(meta_of(info.func), info.name)):
        handle, ctx = start(rt, info, args, kwargs, Placement("inline"))
    started = rt.clock.now_ms()
    try:
        result = wait_outcome(rt, handle.workflow_id) if ctx is None else run(rt, ctx, info, args, kwargs)
    except Exception as exc:
        _record_get_result(rt, parent, handle.workflow_id, started, None, exc)
        raise
    _record_get_result(rt, parent, handle.workflow_id, started, result, None)
    return result


def _record_get_result(rt: Runtime, parent: WorkflowContext | None, child_id: str, started_ms: int,
                       result: Any, error: Exception | None) -> None:
    if parent is None:
        return
    fid = parent.next_function_id()
    if fid in parent.recorded:
        return
    output = None if error is not None else rt.serializer.serialize(result)
    record_operation(rt, parent, fid, "DBOS.getResult", output=output,
                     error=None if error is None else rt.serializer.serialize_error(error),
                     child_workflow_id=child_id, started_at_ms=started_ms, defer=True)


def resume_context(rt: Runtime, claimed: ClaimedWorkflow) -> WorkflowContext:
    """Context for a claimed or recovered row, with its recorded operations for replay and the
    identity it was started with (the role it assumes is decided again when it runs)."""
    recorded: dict[int, StepRecord] = {}
    if claimed.has_steps:  # the claim tells whether anything was recorded
        recorded = {r.function_id: r for r in rt.db.steps.recorded(claimed.workflow_id)}
    return claimed_context(claimed, recorded)


def claimed_context(claimed: ClaimedWorkflow, recorded: dict[int, StepRecord]) -> WorkflowContext:
    """The context a claimed row runs in (thread or async lane): its recorded operations, the
    identity it was started with and its enqueue span's trace context."""
    identity = auth.from_row(claimed.authenticated_user, claimed.authenticated_roles)
    return WorkflowContext(workflow_id=claimed.workflow_id, owner_token=claimed.owner_token,
                           name=claimed.name, recorded=recorded, deadline_ms=claimed.deadline_ms,
                           queue_name=claimed.queue_name,
                           authenticated_user=identity.authenticated_user,
                           authenticated_roles=identity.authenticated_roles,
                           trace_parent=claimed.trace_context)

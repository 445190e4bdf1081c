"""workflow.start for async callers: the same ids, rows, options and policies (workflow.py,
starting.py), the inline row inserted on the loop's async pool and queued rows through the
enqueue group commit, awaited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import auth
from .. import starting as sync_starting
from ..classes import meta_of, target_names
from ..context import StartOptions, WorkflowContext, current_step, current_workflow, start_options
from ..db.records import Inserted, NewWorkflow
from ..errors import (
    DBOSConfigError,
    DBOSConflictingWorkflowError,
    DBOSQueueConfigError,
    DBOSQueueDeduplicatedError,
    DBOSWorkersError,
    DBOSWorkflowIDInUseError,
    DuplicateKeyError,
)
from ..registry import WorkflowInfo
from ..runtime import Runtime
from ..workflow import Placement, Target, _assign_id, new_row
from .handle import WorkflowHandleAsync
from .steps import flush_pending, record_operation
from .wake import committed


async def start(rt: Runtime, info: WorkflowInfo, args: tuple[Any, ...], kwargs: dict[str, Any],
                placement: Placement, target: Target | None = None,
                after_id: Callable[[], None] | None = None
                ) -> tuple[WorkflowHandleAsync[Any], WorkflowContext | None]:
    """Insert (or find) the row; (handle, context to run it with here, or None). With a
    target (enqueue by name), args are the inputs as given. The id (and in a workflow, the
    operation's function id) is drawn before anything is awaited, so concurrent starts in a
    workflow (gather) number their operations in call order; after_id runs right then."""
    if current_step() is not None:
        raise DBOSWorkersError("workflows cannot be started or enqueued from inside a step")
    opts = start_options()
    sync_starting.validate(opts, placement.mode == "queue")
    parent = current_workflow()
    workflow_id, fid = _assign_id(rt, parent)
    if after_id is not None:
        after_id()
    if parent is not None:
        await flush_pending(rt, parent)  # the parent's last step is durable before its child exists
    started = rt.clock.now_ms()
    stored = args
    if target is None:
        target = Target(*target_names(meta_of(info.func), args))
        stored = args[1:] if target.class_name is not None else args
    new = new_row(rt, info, workflow_id, rt.serializer.serialize({"args": stored, "kwargs": kwargs}),
                  placement, parent, target)
    # a row that runs here is in the ledger before its insert commits (the orphan sweep)
    reserved = new.owner_token is not None and rt.inflight.reserve(workflow_id, new.owner_token, on_loop=True)
    try:
        try:
            row, workflow_id = await _insert(rt, new, opts, info)
        except (DBOSWorkflowIDInUseError, DBOSQueueDeduplicatedError) as exc:
            if parent is not None and fid is not None and fid not in parent.recorded:
                await record_operation(rt, parent, fid, info.name, output=None,
                                       error=rt.serializer.serialize_error(exc), started_at_ms=started)
            raise
        if parent is not None and fid is not None and fid not in parent.recorded:
            await record_operation(rt, parent, fid, info.name, output=None, error=None,
                                   child_workflow_id=workflow_id, started_at_ms=started)
    except BaseException:
        if reserved:  # not run here: the row is not ours, or the orphan sweep hands it back
            rt.inflight.release(new.workflow_id, new.owner_token)
        raise
    handle: WorkflowHandleAsync[Any] = WorkflowHandleAsync(rt, workflow_id)
    if row is None or not row.inserted or new.owner_token is None:
        if reserved:
            rt.inflight.release(new.workflow_id, new.owner_token)
        return handle, None
    identity = auth.from_row(new.authenticated_user, new.authenticated_roles, new.assumed_role)
    return handle, WorkflowContext(
        workflow_id=workflow_id, owner_token=new.owner_token, name=info.name, recorded={},
        deadline_ms=new.deadline_ms, authenticated_user=identity.authenticated_user,
        authenticated_roles=identity.authenticated_roles, assumed_role=identity.assumed_role)


async def _insert(rt: Runtime, new: NewWorkflow, opts: StartOptions,
                  info: WorkflowInfo) -> tuple[Inserted | None, str]:
    notify = new.status == "ENQUEUED" and rt.coalescer.claim_inline(str(new.queue_name))
    row, workflow_id = await _insert_row(rt, new, opts, notify)
    if row is None and workflow_id == new.workflow_id:
        found = await rt.aio.db.workflow_outcome(workflow_id)
        row = None if found is None else Inserted(False, found.status, info.name, found.output,
                                                  found.error, new.class_name, new.config_name)
    if row is not None and not row.inserted:
        sync_starting.check_existing(row, new, opts.reuse_policy)
    return row, workflow_id


async def _insert_row(rt: Runtime, new: NewWorkflow, opts: StartOptions,
                      notify: bool) -> tuple[Inserted | None, str]:
    """starting.insert, awaited (see there for the deduplication cases)."""
    adb = rt.aio.db
    while True:
        if new.owner_token is not None:
            try:
                return await adb.workflow_insert(new, notify=notify), new.workflow_id
            except DuplicateKeyError:
                raise DBOSConflictingWorkflowError(
                    new.workflow_id, "a unique constraint was violated") from None
        row = await committed(rt.writers.enqueues, (new, notify))
        if row is not None or new.deduplication_id is None:
            return row, new.workflow_id
        if await adb.workflow_outcome(new.workflow_id) is not None:
            return None, new.workflow_id
        queue, dedup = str(new.queue_name), str(new.deduplication_id)
        if opts.duplication_policy != "return-existing":
            raise DBOSQueueDeduplicatedError(new.workflow_id, queue, dedup)
        holder = await adb.workflow_deduplicated_holder(queue, dedup)
        if holder is not None:
            return None, holder


async def enqueue(rt: Runtime, queue_name: str, info: WorkflowInfo, args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> WorkflowHandleAsync[Any]:
    """workflow.enqueue, awaited."""
    if not isinstance(queue_name, str) or not queue_name or "\x00" in queue_name or len(queue_name) > 255:
        raise DBOSConfigError(f"queue name must be a non-empty string (<= 255 chars), got {queue_name!r}")
    queue = rt.registry.queues.get(queue_name)
    if queue is not None and queue.partitioned and start_options().queue_partition_key is None:
        raise DBOSQueueConfigError(f"queue {queue_name!r} is partitioned: enqueue with "
                                   "SetEnqueueOptions(queue_partition_key=...)")
    handle, _ = await start(rt, info, args, kwargs, Placement("queue", queue_name))
    return handle


async def enqueue_with_options(rt: Runtime, options: Any, args: tuple[Any, ...],
                               kwargs: dict[str, Any]) -> WorkflowHandleAsync[Any]:
    """enqueue_options.enqueue_with_options, awaited: enqueue by name (not checked against
    this process's registry)."""
    from dataclasses import replace

    from ..context import _options, consume_workflow_id
    from ..enqueue_options import _changes, _identity, _not_here, validate
    from ..registry import DEFAULT_MAX_RECOVERY_ATTEMPTS

    validate(options)
    name, queue = options["workflow_name"], options["queue_name"]
    info = rt.registry.workflows.get(name) or WorkflowInfo(name, _not_here, DEFAULT_MAX_RECOVERY_ATTEMPTS, "")
    target = Target(options.get("class_name"), options.get("instance_name"))
    token = _options.set(replace(start_options(), **_changes(options)))
    try:
        with _identity(options):
            handle, _ = await start(rt, info, tuple(args), dict(kwargs), Placement("queue", queue), target)
    finally:
        _options.reset(token)
        if options.get("workflow_id") is None:
            consume_workflow_id()
    return handle

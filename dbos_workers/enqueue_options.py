"""EnqueueOptions and DBOS.enqueue_workflow_with_options: enqueue a workflow by name, without
a reference to its function (it may be implemented by another process sharing the system
database), building the row DBOSClient.enqueue builds. As DBOS: what the options leave unset
falls back to the ambient SetWorkflowID / SetEnqueueOptions / SetWorkflowTimeout /
SetWorkflowAttributes / DBOSContextSetAuth, except app_version, which stays NULL unless
given; called in a workflow, the enqueued workflow is recorded as its child."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypedDict

from . import auth
from . import workflow as wf
from .context import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    DuplicationPolicy,
    WorkflowIDReusePolicy,
    _options,
    consume_workflow_id,
    start_options,
)
from .errors import DBOSException, DBOSWorkflowFunctionNotFoundError
from .registry import DEFAULT_MAX_RECOVERY_ATTEMPTS, WorkflowInfo

if TYPE_CHECKING:
    from .handle import WorkflowHandle
    from .runtime import Runtime


class _EnqueueOptionsRequired(TypedDict):
    workflow_name: str
    queue_name: str


class EnqueueOptions(_EnqueueOptionsRequired, total=False):
    workflow_id: str
    workflow_id_reuse_policy: WorkflowIDReusePolicy
    app_version: str
    workflow_timeout: float
    delay_seconds: float
    deduplication_id: str
    duplication_policy: DuplicationPolicy
    priority: int
    queue_partition_key: str
    authenticated_user: str
    authenticated_roles: list[str]
    class_name: str
    instance_name: str
    attributes: dict[str, Any]


def validate(options: EnqueueOptions) -> None:
    priority = options.get("priority")
    if priority is not None and not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise DBOSException(f"Invalid priority {priority}. Priority must be between "
                            f"{MIN_PRIORITY}~{MAX_PRIORITY}.")
    workflow_id = options.get("workflow_id")
    if workflow_id is not None and not workflow_id.strip():
        raise DBOSException(f"Invalid workflow ID {workflow_id!r}: workflow IDs must be non-empty "
                            "and cannot be only whitespace.")
    if options.get("workflow_id_reuse_policy") not in (None, "return-existing", "reject"):
        raise DBOSException(f"Invalid workflow_id_reuse_policy {options.get('workflow_id_reuse_policy')}. "
                            "Must be either 'return-existing' or 'reject'.")
    if options.get("duplication_policy") not in (None, "reject", "return-existing"):
        raise DBOSException(f"Invalid duplication_policy {options.get('duplication_policy')}. "
                            "Must be either 'reject' or 'return-existing'.")


def _changes(options: EnqueueOptions) -> dict[str, Any]:
    """The StartOptions fields these options set (unset ones keep the ambient value)."""
    ambient = start_options()
    changes: dict[str, Any] = {"record_version": False}
    for key, field in (("workflow_id", "workflow_id"), ("workflow_id_reuse_policy", "reuse_policy"),
                       ("app_version", "app_version"), ("delay_seconds", "delay_seconds"),
                       ("deduplication_id", "deduplication_id"), ("priority", "priority"),
                       ("duplication_policy", "duplication_policy"),
                       ("queue_partition_key", "queue_partition_key")):
        if options.get(key) is not None:
            changes[field] = options.get(key)
    if options.get("workflow_id") is not None and options.get("workflow_id_reuse_policy") is None:
        changes["reuse_policy"] = None  # the ambient policy belongs to the ambient id
    if options.get("workflow_timeout") is not None:
        changes["timeout_sec"], changes["timeout_set"] = options.get("workflow_timeout"), True
    if options.get("attributes") is not None:  # merged: the options win per key
        changes["attributes"] = {**(ambient.attributes or {}), **(options.get("attributes") or {})}
    return changes


@contextlib.contextmanager
def _identity(options: EnqueueOptions) -> Iterator[None]:
    ambient = auth.current()
    user = options.get("authenticated_user") or (ambient.authenticated_user if ambient else None)
    roles = options.get("authenticated_roles") or (ambient.authenticated_roles if ambient else None)
    token = auth.enter(auth.Identity(user, list(roles) if roles else None))
    try:
        yield
    finally:
        auth.leave(token)


def _not_here(*_: Any, **__: Any) -> Any:
    raise DBOSWorkflowFunctionNotFoundError("<NONE>", "enqueued by name: not registered in this process")


def enqueue_with_options(rt: Runtime, options: EnqueueOptions, args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> WorkflowHandle[Any]:
    validate(options)
    name, queue = options["workflow_name"], options["queue_name"]
    info = rt.registry.workflows.get(name) or WorkflowInfo(name, _not_here, DEFAULT_MAX_RECOVERY_ATTEMPTS, "")
    target = wf.Target(options.get("class_name"), options.get("instance_name"))
    token = _options.set(replace(start_options(), **_changes(options)))
    try:
        with _identity(options):
            handle, _ = wf.start(rt, info, tuple(args), dict(kwargs), wf.Placement("queue", queue), target)
    finally:
        _options.reset(token)
        if options.get("workflow_id") is None:
            consume_workflow_id()  # the ambient SetWorkflowID's id was this enqueue's
    return handle

"""What DBOS decides when a workflow starts or is enqueued, beyond its id: which options may
be set, what the new row records besides its inputs (identity, attributes, partition key,
application version), the duplication policy of a deduplicated enqueue, the reuse policy of a
workflow id in use, and the conflicts of an existing row (DBOS's _init_workflow and
_insert_workflow_status)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import auth, metrics
from .context import StartOptions
from .db.records import Inserted, NewWorkflow
from .errors import (
    DBOSConflictingWorkflowError,
    DBOSException,
    DBOSQueueDeduplicatedError,
    DBOSWorkflowIDInUseError,
    DuplicateKeyError,
)

if TYPE_CHECKING:
    from .runtime import Runtime


def validate(opts: StartOptions, queued: bool) -> None:
    """Enqueue options on a workflow that is not enqueued, and a "return-existing" duplication
    policy without a queue or a deduplication id, are errors (DBOS's words)."""
    if not queued:
        set_options = [name for name, value in (
            ("deduplication_id", opts.deduplication_id), ("priority", opts.priority),
            ("queue_partition_key", opts.queue_partition_key), ("delay_seconds", opts.delay_seconds))
            if value is not None]
        if set_options:
            raise DBOSException(
                f"Enqueue option(s) {', '.join(set_options)} set on a workflow that is not being "
                "enqueued. These options are only supported when enqueueing a workflow onto a queue.")
    if opts.duplication_policy == "return-existing":
        if not queued:
            raise DBOSException("duplication_policy 'return-existing' requires a queue. It is only "
                                "supported when enqueueing a workflow onto a queue.")
        if opts.deduplication_id is None:
            raise DBOSException("duplication_policy 'return-existing' requires a deduplication_id.")
    if queued and opts.queue_partition_key is not None and opts.deduplication_id is not None:
        raise DBOSException("Deduplication is not supported for partitioned queues")


def extras(rt: Runtime, opts: StartOptions, queued: bool) -> dict[str, Any]:
    """The columns a new row records besides its inputs: who starts it (the current identity,
    as DBOS), its attributes, its partition key, and its application version (this process's,
    or SetEnqueueOptions(app_version=...) for an enqueue)."""
    identity = auth.current()
    version = rt.settings.application_version if opts.record_version else None
    if queued and opts.app_version is not None:
        version = opts.app_version
    return {
        "authenticated_user": identity.authenticated_user if identity else None,
        "authenticated_roles": identity.roles_json() if identity else None,
        "assumed_role": identity.assumed_role if identity else None,
        "attributes": None if opts.attributes is None else json.dumps(opts.attributes),
        "queue_partition_key": opts.queue_partition_key if queued else None,
        "application_version": version,
    }


def insert(rt: Runtime, new: NewWorkflow, opts: StartOptions, notify: bool) -> tuple[Inserted | None, str]:
    """Insert the row; returns it (None: a concurrent insert committed after our snapshot) and
    the workflow id the caller gets: under duplication_policy "return-existing", the id of the
    workflow already holding the deduplication id. Queued rows go through the enqueue group
    commit (concurrent enqueues of this process share one statement)."""
    while True:
        if new.owner_token is not None:  # runs here: a row of its own (no deduplication id)
            try:
                return rt.db.workflows.insert(new, notify=notify), new.workflow_id
            except DuplicateKeyError:
                raise DBOSConflictingWorkflowError(
                    new.workflow_id, "a unique constraint was violated") from None
        row = rt.writers.enqueues.submit((new, notify))
        metrics.enqueued(new.queue_name, new.name, row)
        if row is not None or new.deduplication_id is None:
            return row, new.workflow_id
        if rt.db.workflows.outcome(new.workflow_id) is not None:
            return None, new.workflow_id  # it committed after the statement's snapshot
        queue, dedup = str(new.queue_name), str(new.deduplication_id)
        if opts.duplication_policy != "return-existing":
            raise DBOSQueueDeduplicatedError(new.workflow_id, queue, dedup)
        holder = rt.db.workflows.deduplicated_holder(queue, dedup)
        if holder is not None:
            return None, holder
        # the holder finished (its id released) between the insert and the look-up: again


def check_existing(row: Inserted, new: NewWorkflow, reuse_policy: str | None) -> None:
    """An existing row: DBOSWorkflowIDInUseError under the "reject" reuse policy; a different
    function, class or configured instance is DBOSConflictingWorkflowError."""
    if reuse_policy == "reject":
        raise DBOSWorkflowIDInUseError(new.workflow_id, row.status, row.name)
    message = None
    if row.name != new.name:
        message = (f"Workflow already exists with a different function name: {row.name}, but the "
                   f"provided function name is: {new.name}")
    elif row.class_name != new.class_name:
        message = (f"Workflow already exists with a different class name: {row.class_name}, but the "
                   f"provided class name is: {new.class_name}")
    elif row.config_name != new.config_name:
        message = (f"Workflow already exists with a different config name: {row.config_name}, but "
                   f"the provided config name is: {new.config_name}")
    if message is not None:
        raise DBOSConflictingWorkflowError(new.workflow_id, message)

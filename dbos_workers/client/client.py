"""DBOSClient (DBOS 3.4): enqueue and manage workflows from a process that has none of the
app's code (a web server, a script, the CLI). It never migrates (DBOSSchemaMissingError when
the schema is missing or older), runs no workflow, registers no executor (holds no lease):
its connections are a small pool and one LISTEN connection for result, message and event
wake-ups. A workflow name no running process registered waits, parked, for one that has."""

from __future__ import annotations

import builtins
from typing import Any

from .. import messages
from ..db.admin import QueueSummary
from ..errors import DBOSNonExistentWorkflowError, DBOSQueueDeduplicatedError
from ..fork import fork_workflow
from ..handle import WorkflowHandle
from ..management import Management
from ..runtime import Runtime
from ..serialization import Serializer
from ..starting import check_existing
from ..status import WorkflowStatus
from .aio import AsyncClientAPI
from .options import EnqueueOptions, new_row, validate
from .runtime import CLIENT_EXECUTOR_ID, client_runtime


class DBOSClient(AsyncClientAPI):
    def __init__(self, system_database_url: str | None = None, *, dbos_system_schema: str = "dbos_workers",
                 serializer: Serializer | str | None = None, system_database_pool_size: int | None = None,
                 application_name: str | None = None) -> None:
        """`system_database_url` (else DBOS_SYSTEM_DATABASE_URL), the service's
        `dbos_system_schema` (ours defaults to "dbos_workers"), the app's serializer, a pool
        of `system_database_pool_size` connections (default 5), and the `application_name`
        recorded on enqueued rows (default: the queue's registered application)."""
        self._rt = client_runtime(system_database_url, dbos_system_schema, serializer,
                                  max(2, system_database_pool_size or 5), application_name)
        self._application_name = application_name

    @property
    def runtime(self) -> Runtime:
        return self._rt

    def destroy(self) -> None:
        """Close the pool and the LISTEN connection (handles made by this client stop working)."""
        self._rt.stop()

    def __enter__(self) -> DBOSClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # Enqueue -------------------------------------------------------------------------------
    def enqueue(self, options: EnqueueOptions, *args: Any, **kwargs: Any) -> WorkflowHandle[Any]:
        """Enqueue `options["workflow_name"]` on `options["queue_name"]` with these inputs."""
        validate(options)
        rt = self._rt
        queue = rt.db.queues.get(options["queue_name"])
        application = self._application_name or (queue.application_name if queue else None)
        new = new_row(rt, options, args, kwargs, application or CLIENT_EXECUTOR_ID)
        row = rt.db.workflows.enqueue([(new, True)])[0]
        if row is None:
            if rt.db.workflows.outcome(new.workflow_id) is not None:
                return WorkflowHandle(rt, new.workflow_id)  # committed after our snapshot
            queue_name, dedup = str(new.queue_name), str(new.deduplication_id)
            if options.get("duplication_policy") == "return-existing":
                holder = rt.db.workflows.deduplicated_holder(queue_name, dedup)
                if holder is not None:
                    return WorkflowHandle(rt, holder)
            raise DBOSQueueDeduplicatedError(new.workflow_id, queue_name, dedup)
        if not row.inserted:
            check_existing(row, new, options.get("workflow_id_reuse_policy"))
        return WorkflowHandle(rt, new.workflow_id)

    # Workflows -----------------------------------------------------------------------------
    def retrieve_workflow(self, workflow_id: str, existing_workflow: bool = True) -> WorkflowHandle[Any]:
        if existing_workflow and self._rt.db.workflows.outcome(workflow_id) is None:
            raise DBOSNonExistentWorkflowError(workflow_id)
        return WorkflowHandle(self._rt, workflow_id)

    def get_workflow_status(self, workflow_id: str) -> WorkflowStatus | None:
        rows = Management(self._rt).list_workflows(workflow_ids=[workflow_id])
        return rows[0] if rows else None

    def cancel_workflow(self, workflow_id: str) -> None:
        if self._rt.db.workflows.outcome(workflow_id) is None:
            raise DBOSNonExistentWorkflowError(workflow_id)
        Management(self._rt).cancel(workflow_id)

    def resume_workflow(self, workflow_id: str, *, queue_name: str | None = None) -> WorkflowHandle[Any]:
        return Management(self._rt).resume(workflow_id, queue_name)

    def fork_workflow(self, workflow_id: str, start_step: int, *, application_version: str | None = None,
                      queue_name: str | None = None, timeout_seconds: float | None = None) -> WorkflowHandle[Any]:
        return fork_workflow(self._rt, workflow_id, start_step, application_version=application_version,
                             queue_name=queue_name, timeout_seconds=timeout_seconds)

    def list_workflows(self, **filters: Any) -> builtins.list[WorkflowStatus]:
        return Management(self._rt).list_workflows(**filters)

    def list_queued_workflows(self, **filters: Any) -> builtins.list[WorkflowStatus]:
        return Management(self._rt).list_queued_workflows(**filters)

    def list_workflow_steps(self, workflow_id: str, *, load_output: bool = True, limit: int | None = None,
                            offset: int | None = None) -> builtins.list[dict[str, Any]]:
        return Management(self._rt).steps(workflow_id, load_output=load_output, limit=limit, offset=offset)

    # Messages and events ---------------------------------------------------------------------
    def send(self, destination_id: str, message: Any, topic: str | None = None,
             idempotency_key: str | None = None) -> None:
        messages.send(self._rt, destination_id, message, topic, idempotency_key)

    def get_event(self, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any:
        return messages.get_event(self._rt, workflow_id, key, timeout_seconds)

    # Queues (for `dbos-workers queue list`) ----------------------------------------------------
    def queue_summary(self) -> builtins.list[QueueSummary]:
        """Per queue: ENQUEUED (parked among them), PENDING, DELAYED, oldest age, limits."""
        return self._rt.db.admin.queue_summary()

"""The client's `_async` twins (DBOS 3.4 names). Each runs its synchronous twin in a worker
thread (asyncio.to_thread): the typed stores are synchronous psycopg, and one code path keeps
the twins from drifting. Handles come back as WorkflowHandleAsync."""

from __future__ import annotations

import asyncio
import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..handle import BACKSTOP_SEC, WorkflowHandle
from ..status import WorkflowStatus

if TYPE_CHECKING:
    from .options import EnqueueOptions

R = TypeVar("R")


@dataclass
class WorkflowHandleAsync(Generic[R]):
    handle: WorkflowHandle[R]

    @property
    def workflow_id(self) -> str:
        return self.handle.workflow_id

    def get_workflow_id(self) -> str:
        return self.handle.workflow_id

    async def get_result(self, *, polling_interval_sec: float = BACKSTOP_SEC, timeout: float | None = None) -> R:
        return await asyncio.to_thread(self.handle.get_result, polling_interval_sec=polling_interval_sec,
                                       timeout=timeout)

    async def get_status(self) -> WorkflowStatus:
        return await asyncio.to_thread(self.handle.get_status)


class AsyncClientAPI:
    # The synchronous methods DBOSClient defines.
    if TYPE_CHECKING:
        def enqueue(self, options: EnqueueOptions, *args: Any, **kwargs: Any) -> WorkflowHandle[Any]: ...
        def retrieve_workflow(self, workflow_id: str, existing_workflow: bool = True) -> WorkflowHandle[Any]: ...
        def cancel_workflow(self, workflow_id: str) -> None: ...
        def resume_workflow(self, workflow_id: str, *, queue_name: str | None = None) -> WorkflowHandle[Any]: ...
        def fork_workflow(self, workflow_id: str, start_step: int, *, application_version: str | None = None,
                          queue_name: str | None = None,
                          timeout_seconds: float | None = None) -> WorkflowHandle[Any]: ...
        def list_workflows(self, **filters: Any) -> builtins.list[WorkflowStatus]: ...
        def list_queued_workflows(self, **filters: Any) -> builtins.list[WorkflowStatus]: ...
        def list_workflow_steps(self, workflow_id: str, *, load_output: bool = True, limit: int | None = None,
                                offset: int | None = None) -> builtins.list[dict[str, Any]]: ...
        def send(self, destination_id: str, message: Any, topic: str | None = None,
                 idempotency_key: str | None = None) -> None: ...
        def get_event(self, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any: ...

    async def enqueue_async(self, options: EnqueueOptions, *args: Any, **kwargs: Any) -> WorkflowHandleAsync[Any]:
        return WorkflowHandleAsync(await asyncio.to_thread(self.enqueue, options, *args, **kwargs))

    async def retrieve_workflow_async(self, workflow_id: str,
                                      existing_workflow: bool = True) -> WorkflowHandleAsync[Any]:
        handle = await asyncio.to_thread(self.retrieve_workflow, workflow_id, existing_workflow)
        return WorkflowHandleAsync(handle)

    async def cancel_workflow_async(self, workflow_id: str) -> None:
        await asyncio.to_thread(self.cancel_workflow, workflow_id)

    async def resume_workflow_async(self, workflow_id: str, *,
                                    queue_name: str | None = None) -> WorkflowHandleAsync[Any]:
        return WorkflowHandleAsync(await asyncio.to_thread(self.resume_workflow, workflow_id, queue_name=queue_name))

    async def fork_workflow_async(self, workflow_id: str, start_step: int, *, application_version: str | None = None,
                                  queue_name: str | None = None,
                                  timeout_seconds: float | None = None) -> WorkflowHandleAsync[Any]:
        return WorkflowHandleAsync(await asyncio.to_thread(
            self.fork_workflow, workflow_id, start_step, application_version=application_version,
            queue_name=queue_name, timeout_seconds=timeout_seconds))

    async def list_workflows_async(self, **filters: Any) -> builtins.list[WorkflowStatus]:
        return await asyncio.to_thread(self.list_workflows, **filters)

    async def list_queued_workflows_async(self, **filters: Any) -> builtins.list[WorkflowStatus]:
        return await asyncio.to_thread(self.list_queued_workflows, **filters)

    async def list_workflow_steps_async(self, workflow_id: str, *, load_output: bool = True,
                                        limit: int | None = None,
                                        offset: int | None = None) -> builtins.list[dict[str, Any]]:
        return await asyncio.to_thread(self.list_workflow_steps, workflow_id, load_output=load_output,
                                       limit=limit, offset=offset)

    async def send_async(self, destination_id: str, message: Any, topic: str | None = None,
                         idempotency_key: str | None = None) -> None:
        await asyncio.to_thread(self.send, destination_id, message, topic, idempotency_key)

    async def get_event_async(self, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any:
        return await asyncio.to_thread(self.get_event, workflow_id, key, timeout_seconds)

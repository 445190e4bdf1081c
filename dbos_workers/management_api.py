"""The DBOS classmethods of workflow management (a base of the DBOS façade, so dbos.py stays
small): list_workflows / list_queued_workflows with every DBOS filter, fork_workflow, and
their async twins (the call runs in a thread: the stores are synchronous)."""

from __future__ import annotations

import asyncio
from typing import Any

from .fork import fork_workflow
from .handle import WorkflowHandle
from .management import Management
from .runtime import Runtime
from .status import WorkflowStatus


class ManagementAPI:
    @classmethod
    def _rt(cls) -> Runtime:  # the DBOS façade provides it
        raise NotImplementedError

    @classmethod
    def list_workflows(cls, **filters: Any) -> list[WorkflowStatus]:
        """DBOS.list_workflows: every documented filter honoured, or DBOSUnsupportedFilterError."""
        return Management(cls._rt()).list_workflows(**filters)

    @classmethod
    def list_queued_workflows(cls, **filters: Any) -> list[WorkflowStatus]:
        return Management(cls._rt()).list_queued_workflows(**filters)

    @classmethod
    async def list_workflows_async(cls, **filters: Any) -> list[WorkflowStatus]:
        return await asyncio.to_thread(cls.list_workflows, **filters)

    @classmethod
    async def list_queued_workflows_async(cls, **filters: Any) -> list[WorkflowStatus]:
        return await asyncio.to_thread(cls.list_queued_workflows, **filters)

    @classmethod
    def fork_workflow(cls, workflow_id: str, start_step: int, *, application_version: str | None = None,
                      queue_name: str | None = None, timeout_seconds: float | None = None) -> WorkflowHandle[Any]:
        """A new workflow from `start_step` of this one (steps before it replayed), enqueued."""
        return fork_workflow(cls._rt(), workflow_id, start_step, application_version=application_version,
                             queue_name=queue_name, timeout_seconds=timeout_seconds)

    @classmethod
    async def fork_workflow_async(cls, workflow_id: str, start_step: int, *,
                                  application_version: str | None = None, queue_name: str | None = None,
                                  timeout_seconds: float | None = None) -> WorkflowHandle[Any]:
        return await asyncio.to_thread(cls.fork_workflow, workflow_id, start_step,
                                       application_version=application_version, queue_name=queue_name,
                                       timeout_seconds=timeout_seconds)

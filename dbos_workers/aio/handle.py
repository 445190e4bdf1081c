"""WorkflowHandleAsync: get_result and get_status awaited (DBOS's async handle)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..errors import DBOSNonExistentWorkflowError
from ..handle import BACKSTOP_SEC
from ..status import WorkflowStatus, status_from_row

if TYPE_CHECKING:
    from ..runtime import Runtime

R = TypeVar("R")


@dataclass
class WorkflowHandleAsync(Generic[R]):
    _origin: Runtime
    workflow_id: str

    @property
    def _rt(self) -> Runtime:
        if self._origin.closed:
            from ..runtime import process_runtime

            return process_runtime() or self._origin
        return self._origin

    def get_workflow_id(self) -> str:
        return self.workflow_id

    async def get_result(self, *, polling_interval_sec: float = BACKSTOP_SEC,
                         timeout: float | None = None) -> R:
        """Await the outcome (NOTIFY-woken; the row is re-read every polling_interval_sec).
        In a workflow, an operation ("DBOS.getResult")."""
        from .steps import operation
        from .waits import wait_outcome

        if isinstance(polling_interval_sec, bool) or not isinstance(polling_interval_sec, int | float):
            raise TypeError(f"polling_interval_sec must be a number of seconds, not {polling_interval_sec!r}")
        if not polling_interval_sec > 0:
            raise ValueError(f"polling_interval_sec must be > 0, not {polling_interval_sec!r}")
        rt = self._rt

        async def wait(_: Any, __: int) -> Any:
            return await wait_outcome(rt, self.workflow_id, timeout, float(polling_interval_sec))

        return await operation(rt, "DBOS.getResult", wait,  # type: ignore[no-any-return]
                               child_workflow_id=self.workflow_id)

    async def get_status(self) -> WorkflowStatus:
        row = await self._rt.aio.db.workflow_get(self.workflow_id)
        if row is None:
            raise DBOSNonExistentWorkflowError(self.workflow_id)
        return status_from_row(self._rt, row)

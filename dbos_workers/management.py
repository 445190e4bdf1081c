"""Cancel, resume, list: workflow management over the repository."""

from __future__ import annotations

import builtins
from typing import Any

from . import workflow_admin
from .db.leader import election_key
from .handle import WorkflowHandle
from .runtime import Runtime
from .status import WorkflowStatus, status_from_row


class Management:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def cancel(self, workflow_id: str) -> None:
        workflow_admin.cancel(self.rt, [workflow_id])

    def resume(self, workflow_id: str, queue_name: str | None = None) -> WorkflowHandle[Any]:
        return workflow_admin.resume(self.rt, [workflow_id], queue_name=queue_name)[0]

    def list_workflows(self, *, workflow_ids: list[str] | None = None, status: str | list[str] | None = None,
             name: str | None = None, queue_name: str | None = None, limit: int | None = None,
             queued_only: bool = False, **_: Any) -> list[WorkflowStatus]:
        statuses = [status] if isinstance(status, str) else status
        rows = self.rt.db.workflows.search(workflow_ids=workflow_ids, statuses=statuses, name=name,
                                         queue_name=queue_name, queued_only=queued_only, limit=limit)
        return [status_from_row(self.rt, r) for r in rows]

    def leader(self) -> dict[str, Any] | None:
        """Which executor leads (cron, maintenance) and since when, or None."""
        row = self.rt.db.leader.current(election_key(self.rt.settings.schema, self.rt.settings.name))
        if row is None:
            return None
        return {"instance_id": row.instance_id, "executor_id": row.executor_id,
                "elected_at": row.elected_at, "renewed_at": row.renewed_at}

    def steps(self, workflow_id: str, *, load_output: bool = True, limit: int | None = None,
              offset: int | None = None) -> builtins.list[dict[str, Any]]:
        """DBOS's StepInfo: function_id, function_name, output, error, child_workflow_id,
        child_shard_key (None: no sharding), started_at_epoch_ms, completed_at_epoch_ms."""
        rows = self.rt.db.steps.recorded(workflow_id)[offset or 0:]
        out = []
        for r in rows[:limit] if limit is not None else rows:
            out.append({
                "function_id": r.function_id, "function_name": r.function_name,
                "output": self._load(r.output) if load_output else None,
                "error": self._load(r.error, error=True) if load_output else None,
                "child_workflow_id": r.child_workflow_id,
                "child_shard_key": None,
                "started_at_epoch_ms": r.started_at_ms,
                "completed_at_epoch_ms": r.completed_at_ms,
            })
        return out

    def _load(self, text: str | None, error: bool = False) -> Any:
        if text is None:
            return None
        return self.rt.serializer.deserialize_error(text) if error else self.rt.serializer.deserialize(text)

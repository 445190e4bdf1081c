"""operation_outputs: the recorded operations of a workflow, read once per execution and
written (fenced by the owner token) in group-committed batches."""

from __future__ import annotations

from collections.abc import Sequence

from .records import Checkpoint, Ownership, StepRecord
from .store import Store, columns

_CHECKPOINT = {"workflow_ids": "workflow_id", "owner_tokens": "owner_token",
               "function_ids": "function_id", "function_names": "function_name", "outputs": "output",
               "errors": "error", "child_ids": "child_workflow_id", "started": "started_at_ms",
               "completed": "completed_at_ms"}


class StepStore(Store):
    def recorded(self, workflow_id: str) -> list[StepRecord]:
        return [StepRecord.of(r) for r in self.repo.all("step_list", workflow_id=workflow_id)]

    def get(self, workflow_id: str, function_id: int) -> StepRecord | None:
        row = self.repo.one("step_get", workflow_id=workflow_id, function_id=function_id)
        if row is None:
            return None
        return StepRecord(function_id, row["function_name"], row["output"], row["error"],
                          row["child_workflow_id"])

    def record(self, batch: Sequence[Checkpoint]) -> list[Ownership | None]:
        """Write several checkpoints in one statement, each only while its execution owns the
        workflow; per item, the ownership it found (None: the workflow row is gone)."""
        rows = self.repo.all("step_record_batch", **columns(batch, _CHECKPOINT), now_ms=self.now_ms())
        by_key = {(r["workflow_uuid"], r["function_id"]): r for r in rows}
        out: list[Ownership | None] = []
        for c in batch:
            r = by_key.get((c.workflow_id, c.function_id))
            out.append(None if r is None or r["status"] is None
                       else Ownership(r["status"], r["owner_token"], bool(r["written"])))
        return out

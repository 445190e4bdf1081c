"""Read-only views for operators (metrics scrape, dashboard): bounded-cost statements only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .store import Store

DEPTH_CAP = 10_000


@dataclass(frozen=True)
class QueueDepth:
    queue_name: str
    status: str
    depth: int  # capped at the cap given: DEPTH_CAP reads "at least"
    head_created_at: int | None  # ENQUEUED only: the next row to run


class ObserveStore(Store):
    def queue_depth(self, application_names: list[str], cap: int = DEPTH_CAP) -> list[QueueDepth]:
        rows = self.repo.all("observe_queue_depth", application_names=application_names, cap=cap)
        return [QueueDepth(r["queue_name"], r["status"], int(r["depth"]), r["head_created_at"]) for r in rows]

    def queue_rate(self, since_ms: int) -> dict[str, int]:
        return {r["queue_name"]: int(r["finished"]) for r in self.repo.all("observe_queue_rate", since_ms=since_ms)}

    def workflow_page(self, *, status: str | None, queue_name: str | None, name: str | None,
                      before: tuple[int, str] | None, limit: int) -> list[dict[str, Any]]:
        """Newest first; `before` = (created_at, workflow id) of the previous page's last row."""
        return self.repo.all("observe_workflow_page", status=status, queue_name=queue_name, name=name,
                             before_ms=None if before is None else before[0],
                             before_id=None if before is None else before[1], limit=limit)

    def messages(self, workflow_id: str, limit: int = 100) -> list[dict[str, Any]]:
        return self.repo.all("observe_messages", workflow_id=workflow_id, limit=limit)

    def executors(self, limit: int = 500) -> list[dict[str, Any]]:
        return self.repo.all("observe_executors", limit=limit)

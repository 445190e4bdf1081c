"""Read-only views for operators (metrics scrape, dashboard): bounded-cost statements only."""

from __future__ import annotations

from dataclasses import dataclass

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

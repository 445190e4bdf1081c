"""Leader-only housekeeping, in bounded batches, none a long transaction: promote due DELAYED
workflows, cancel workflows past their deadline, hand back work whose holder's lease expired
(a dead host), and (every PRUNE_EVERY_SEC) prune finished workflows past the configured
retention and executor rows stopped more than a day ago."""

from __future__ import annotations

import sys

import structlog

from .. import metrics
from ..registry import INTERNAL_QUEUE
from ..runtime import Runtime

log = structlog.get_logger("dbos_workers.maintenance")
BATCH = 500
PRUNE_BATCH = 1000
PRUNE_EVERY_SEC = 30.0  # when retention has caught up; at once again while it is behind
PRUNE_BUDGET_SEC = 0.2  # of one leader tick
EXECUTOR_KEEP_MS = 24 * 3600 * 1000


class Maintenance:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._last_prune = -1e9

    def tick(self) -> None:
        rt, db = self.rt, self.rt.db
        db.maintenance.promote_delayed(BATCH)
        expired = db.maintenance.cancel_expired(BATCH)
        if expired:
            log.info("workflows_deadline_cancelled", workflows=len(expired))
        moved = db.maintenance.recover_expired(int(rt.settings.executor_lease_sec * 1000), BATCH,
                                               INTERNAL_QUEUE)
        if moved:  # rows claimed again meanwhile stay with their new holder
            log.warning("dead_holder_work_recovered", workflows=moved)
            metrics.recovered("lease", moved)
        if rt.clock.monotonic() - self._last_prune >= PRUNE_EVERY_SEC:
            self._last_prune = rt.clock.monotonic()
            self.prune(rt.clock.now_ms())

    def prune(self, now: int) -> int:
        """Retention, in batches for up to PRUNE_BUDGET_SEC of this tick; while a batch still
        comes back full (retention is behind), the next tick prunes again, so retention keeps
        pace with any rate the pool sustains. Returns how many workflows were deleted."""
        db, clock = self.rt.db, self.rt.clock
        db.maintenance.prune_executors(now - EXECUTOR_KEEP_MS, BATCH)
        retention = self.rt.settings.workflow_retention_sec
        if retention is None:
            return 0
        cutoff, deadline, total = now - int(retention * 1000), clock.monotonic() + PRUNE_BUDGET_SEC, 0
        while True:
            pruned = db.maintenance.prune_finished(cutoff, PRUNE_BATCH)
            if pruned:
                forget_transactions(pruned)
            total += len(pruned)
            if len(pruned) < PRUNE_BATCH:
                break
            if clock.monotonic() >= deadline:
                self._last_prune = -1e9  # behind: again on the next tick
                break
        if total:
            log.info("workflows_pruned", workflows=total)
        return total


def forget_transactions(workflow_ids: list[str]) -> None:
    """The pruned workflows' transaction checkpoints go too (a workflow id started again later
    must not replay them). Only where datasources exist; a failure is logged, not fatal."""
    if "dbos_workers.datasource" not in sys.modules:
        return
    from ..datasource import forget_all

    try:
        forget_all(workflow_ids)
    except Exception as exc:
        log.warning("transaction_checkpoints_prune_failed", workflows=len(workflow_ids),
                    error=str(exc)[:200])

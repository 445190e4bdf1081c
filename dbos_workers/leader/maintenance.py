"""Leader-only housekeeping, in bounded batches, none a long transaction: promote due DELAYED
workflows, cancel workflows past their deadline, hand back work whose holder's lease expired
(a dead host), and (every PRUNE_EVERY_SEC) prune finished workflows past the configured
retention and executor rows stopped more than a day ago."""

from __future__ import annotations

import time

import structlog

from ..registry import INTERNAL_QUEUE
from ..runtime import Runtime

log = structlog.get_logger("dbos_workers.maintenance")
BATCH = 500
PRUNE_EVERY_SEC = 30.0
EXECUTOR_KEEP_MS = 24 * 3600 * 1000


class Maintenance:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._last_prune = -1e9

    def tick(self) -> None:
        rt, now = self.rt, self.rt.clock.now_ms()
        channel = rt.settings.channel
        rt.repo.all("maintenance_promote_delayed", now_ms=now, n=BATCH, channel=channel)
        expired = rt.repo.all("workflow_cancel_expired", now_ms=now, n=BATCH, channel=channel)
        if expired:
            log.info("workflows_deadline_cancelled", workflows=len(expired))
        lease_ms = int(rt.settings.executor_lease_sec * 1000)
        dead = rt.repo.all("maintenance_expired_holders", lease_ms=lease_ms, n=BATCH)
        if dead:
            rt.repo.all("workflow_requeue", workflow_ids=[r["workflow_uuid"] for r in dead],
                        refund=0, default_queue=INTERNAL_QUEUE, now_ms=now, channel=channel)
            log.warning("dead_holder_work_recovered", workflows=len(dead))
        if time.monotonic() - self._last_prune >= PRUNE_EVERY_SEC:
            self._last_prune = time.monotonic()
            self.prune(now)

    def prune(self, now: int) -> int:
        """One bounded batch of retention; returns how many workflows were deleted."""
        rt = self.rt
        rt.repo.run("maintenance_prune_executors", cutoff_ms=now - EXECUTOR_KEEP_MS, n=BATCH)
        retention = rt.settings.workflow_retention_sec
        if retention is None:
            return 0
        pruned = rt.repo.all("maintenance_prune_finished", cutoff_ms=now - int(retention * 1000), n=BATCH)
        if pruned:
            log.info("workflows_pruned", workflows=len(pruned))
        return len(pruned)

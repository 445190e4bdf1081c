"""Leader-only housekeeping, in bounded batches, none a long transaction: promote due DELAYED
workflows, cancel workflows past their deadline, and hand back work whose holder's lease
expired (a dead host)."""

from __future__ import annotations

import structlog

from ..registry import INTERNAL_QUEUE
from ..runtime import Runtime

log = structlog.get_logger("dbos_workers.maintenance")
BATCH = 500


class Maintenance:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def tick(self) -> None:
        rt, now = self.rt, self.rt.clock.now_ms()
        channel = rt.settings.channel
        rt.repo.all("maintenance_promote_delayed", now_ms=now, n=BATCH, channel=channel)
        expired = rt.repo.all("workflow_cancel_expired", now_ms=now, n=BATCH, channel=channel)
        if expired:
            log.info("workflows_deadline_cancelled", workflows=len(expired))
        lease_ms = int(rt.settings.executor_lease_sec * 1000)
        dead = rt.repo.all("maintenance_expired_holders", now_ms=now, lease_ms=lease_ms, n=BATCH)
        if dead:
            rt.repo.all("workflow_requeue", workflow_ids=[r["workflow_uuid"] for r in dead],
                        refund=0, default_queue=INTERNAL_QUEUE, now_ms=now, channel=channel)
            log.warning("dead_holder_work_recovered", workflows=len(dead))

"""The leader role of a worker process: an elector whose ticks run maintenance and cron.
Cron subscribes to leadership changes: a won election re-reads where each schedule stands."""

from __future__ import annotations

import structlog

from .. import metrics
from ..runtime import Runtime
from .cron import Cron
from .elector import Elector
from .maintenance import Maintenance

log = structlog.get_logger("dbos_workers.leader")


class LeaderRole:
    name = "leader"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.cron = Cron(rt)
        self.maintenance = Maintenance(rt)
        # A tick every 0.25 s: cron seconds, DELAYED promotion and deadlines stay within a
        # quarter second (a renew plus three small statements; nothing when idle is scanned).
        self.elector = Elector(rt, self._tick, probe_sec=0.25)
        self.elector.subscribe(self._on_leadership)

    def start(self) -> None:
        self.cron.register()
        self.elector.start()

    def stop(self, timeout: float = 5.0) -> bool:
        return self.elector.stop(timeout)

    def _on_leadership(self, leading: bool, term: int) -> None:
        metrics.leadership(leading, term)
        if leading:
            self.cron.reset()

    def _tick(self) -> None:
        try:
            self.maintenance.tick()
            self.cron.fire_due(self.elector.lease_valid)
        except Exception as exc:
            log.warning("leader_tick_failed", error=str(exc)[:300])

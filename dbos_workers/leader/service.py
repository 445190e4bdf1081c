"""The leader role of a worker process: an elector whose ticks run maintenance and cron."""

from __future__ import annotations

import structlog

from ..runtime import Runtime
from .cron import Cron
from .elector import Elector
from .maintenance import Maintenance

log = structlog.get_logger("dbos_workers.leader")


class LeaderService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.cron = Cron(rt)
        self.maintenance = Maintenance(rt)
        # A tick every 0.25 s: cron seconds, DELAYED promotion and deadlines stay within a
        # quarter second (a renew plus three small statements; nothing when idle is scanned).
        self.elector = Elector(rt, self._tick, probe_sec=0.25)
        self._term = 0

    def start(self) -> None:
        self.cron.register()
        self.elector.start()

    def stop(self) -> None:
        self.elector.stop()

    def _tick(self) -> None:
        if self._term != self.elector.term:  # a new election won: re-read where schedules stand
            self.cron.reset()
            self._term = self.elector.term
        try:
            self.maintenance.tick()
            self.cron.fire_due(self.elector.lease_valid)
        except Exception as exc:
            log.warning("leader_tick_failed", error=str(exc)[:300])

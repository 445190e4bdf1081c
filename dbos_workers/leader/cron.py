"""Scheduled workflows, fired by the leader only. Each tick is enqueued on the internal queue
with the deterministic id `sched-{name}-{tick isoformat}` (insert-or-ignore), so a stale
leader can never double-fire. Ticks missed during a failover are fired late, once (up to
MAX_BACKLOG per schedule). A leader whose lease lapsed (it was frozen, a follower may have
fenced it) stops firing before the next tick."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import structlog
from croniter import croniter

from ..context import SetWorkflowID
from ..errors import DBOSConfigError
from ..registry import INTERNAL_QUEUE
from ..runtime import Runtime
from ..workflow import Placement, start

log = structlog.get_logger("dbos_workers.cron")
MAX_BACKLOG = 60


def parse_cron(expr: str) -> tuple[str, bool]:
    """Validate a 5- or 6-field (seconds first) cron string; returns (expr, has_seconds)."""
    if not isinstance(expr, str):
        raise DBOSConfigError(f"cron schedule must be a string, got {type(expr).__name__}")
    fields = expr.split()
    if len(fields) not in (5, 6):
        raise DBOSConfigError(f"cron schedule {expr!r} must have 5 fields (or 6 with seconds first)")
    seconds = len(fields) == 6
    if not croniter.is_valid(expr, second_at_beginning=seconds):
        raise DBOSConfigError(f"cron schedule {expr!r} is malformed")
    return expr, seconds


def ticks_between(expr: str, after_ms: int, until_ms: int) -> list[dt.datetime]:
    _, seconds = parse_cron(expr)
    start_at = dt.datetime.fromtimestamp(after_ms / 1000, tz=dt.UTC)
    it = croniter(expr, start_at, second_at_beginning=seconds)
    out: list[dt.datetime] = []
    while True:
        tick: dt.datetime = it.get_next(dt.datetime)
        if tick.timestamp() * 1000 > until_ms:
            return out[-MAX_BACKLOG:]
        out.append(tick)
        if len(out) > 10 * MAX_BACKLOG:
            out = out[-MAX_BACKLOG:]


class Cron:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.last: dict[str, int] = {}

    def register(self) -> None:
        for workflow_name, expr in self.rt.registry.schedules:
            self.rt.repo.run("schedule_register", name=workflow_name, workflow_name=workflow_name,
                             schedule=expr)

    def reset(self) -> None:
        """Leadership changed: re-read where each schedule stands."""
        self.last.clear()

    def fire_due(self, lease_valid: Callable[[], bool] = lambda: True) -> int:
        """Fire every tick due since the last one fired; stop when the lease lapses."""
        fired = 0
        now = self.rt.clock.now_ms()
        for name, expr in self.rt.registry.schedules:
            if name not in self.last:
                row = self.rt.repo.one("schedule_last_fired", name=name)
                self.last[name] = (row or {}).get("last_fired_at") or now
            for tick in ticks_between(expr, self.last[name], now):
                if not lease_valid():
                    log.warning("schedule_lease_lapsed", schedule=name, tick=tick.isoformat())
                    return fired
                self._fire(name, tick, now)
                fired += 1
                self.last[name] = int(tick.timestamp() * 1000)
        return fired

    def _fire(self, name: str, tick: dt.datetime, now_ms: int) -> None:
        info = self.rt.registry.workflow(name)
        actual = dt.datetime.fromtimestamp(now_ms / 1000, tz=dt.UTC)
        with SetWorkflowID(f"sched-{name}-{tick.isoformat()}"):
            start(self.rt, info, (tick, actual), {}, Placement("queue", INTERNAL_QUEUE))
        tick_ms = int(tick.timestamp() * 1000)
        self.rt.repo.run("schedule_fired", name=name, tick_ms=tick_ms)
        log.debug("schedule_fired", schedule=name, tick=tick.isoformat())

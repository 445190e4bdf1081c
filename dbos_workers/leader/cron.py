"""Scheduled workflows, fired by the leader only. Each tick is enqueued on the internal queue
with the deterministic id `sched-{name}-{tick isoformat}` (insert-or-ignore), so a stale
leader can never double-fire. Ticks missed during a failover (a window of max(10 s, 3 leases))
are fired late, once; with automatic_backfill every tick missed since the last one fired is.
A leader whose lease lapsed (it was frozen, a follower may have fenced it) stops firing before
the next tick. Stored schedules (DBOS.create_schedule) are re-read every couple of seconds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from croniter import croniter

from ..context import SetWorkflowID
from ..db.records import ScheduleRecord
from ..errors import DBOSConfigError
from ..handle import WorkflowHandle
from ..registry import DEFAULT_MAX_RECOVERY_ATTEMPTS, INTERNAL_QUEUE, WorkflowInfo
from ..runtime import Runtime
from ..workflow import Placement, start

log = structlog.get_logger("dbos_workers.cron")
MAX_BACKLOG = 60
BACKFILL_MAX = 10_000


def parse_cron(expr: str) -> tuple[str, bool]:
    """Validate a 5- or 6-field (seconds first) cron string; returns (expr, has_seconds)."""
    if not isinstance(expr, str):
        raise DBOSConfigError(f"Invalid cron schedule: {expr!r} (a string is required, got "
                              f"{type(expr).__name__})")
    fields = expr.split()
    if len(fields) not in (5, 6):
        raise DBOSConfigError(f"Invalid cron schedule: '{expr}' (5 fields, or 6 with seconds first)")
    seconds = len(fields) == 6
    if not croniter.is_valid(expr, second_at_beginning=seconds):
        raise DBOSConfigError(f"Invalid cron schedule: '{expr}'")
    return expr, seconds


def parse_timezone(name: str | None) -> dt.tzinfo:
    if name is None:
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise DBOSConfigError(f"Invalid timezone: '{name}' (not a known IANA time zone, "
                              "e.g. 'Europe/Paris')") from None


def ticks_between(expr: str, after_ms: int, until_ms: int, tz: str | None = None,
                  limit: int = MAX_BACKLOG) -> list[dt.datetime]:
    """Ticks in (after, until], in the schedule's zone; at most the latest `limit`."""
    _, seconds = parse_cron(expr)
    start_at = dt.datetime.fromtimestamp(after_ms / 1000, tz=parse_timezone(tz))
    it = croniter(expr, start_at, second_at_beginning=seconds)
    # A job at fixed hours runs once when the clock falls back (the repeated wall-clock time
    # is skipped), as cron does; wildcard-hour jobs follow real time.
    fixed_hours = "*" not in expr.split()[2 if seconds else 1]
    previous_wall = start_at.replace(tzinfo=None)
    out: list[dt.datetime] = []
    while True:
        tick: dt.datetime = it.get_next(dt.datetime)
        if tick.timestamp() * 1000 > until_ms:
            return out[-limit:]
        wall = tick.replace(tzinfo=None)
        if fixed_hours and wall <= previous_wall:
            continue
        previous_wall = wall
        out.append(tick)
        if len(out) > 10 * limit:
            out = out[-limit:]


def _unknown(*_: Any) -> None:
    raise AssertionError("a stand-in for a workflow this process does not know is never run")


def enqueue_tick(rt: Runtime, d: ScheduleRecord, tick: dt.datetime, workflow_id: str) -> WorkflowHandle[Any]:
    """Enqueue one run of a schedule as `workflow_id` (insert-or-ignore: a tick already
    enqueued is left as it is), on its queue or the internal one. A stored schedule's workflow
    gets (tick, context), a decorator's (tick, now). A workflow this process does not know is
    enqueued all the same: it waits for a process that knows it."""
    info = rt.registry.workflows.get(d.workflow_name) or WorkflowInfo(
        d.workflow_name, _unknown, DEFAULT_MAX_RECOVERY_ATTEMPTS, "", d.workflow_class_name)
    if d.kind == "decorator":
        second: Any = dt.datetime.fromtimestamp(rt.clock.now_ms() / 1000, tz=dt.UTC)
    else:
        second = None if d.context is None else rt.serializer.deserialize(d.context)
    with SetWorkflowID(workflow_id):
        handle, _ = start(rt, info, (tick, second), {}, Placement("queue", d.queue_name or INTERNAL_QUEUE))
    return handle


class Cron:
    def __init__(self, rt: Runtime, reload_sec: float = 2.0) -> None:
        self.rt, self.reload_sec = rt, reload_sec
        self.last: dict[str, int] = {}
        self._defs: list[ScheduleRecord] = []
        self._loaded_at = -1e9
        self.failover_window_ms = int(max(10.0, 3 * rt.settings.executor_lease_sec) * 1000)

    def register(self) -> None:
        for workflow_name, expr in self.rt.registry.schedules:
            self.rt.db.schedules.register(workflow_name, workflow_name, expr, self.rt.settings.name)

    def reset(self) -> None:
        """Leadership changed: re-read where each schedule stands."""
        self.last.clear()
        self._loaded_at = -1e9

    def definitions(self) -> list[ScheduleRecord]:
        if self.rt.clock.monotonic() - self._loaded_at >= self.reload_sec:
            self._defs = self.rt.db.schedules.find(status="ACTIVE", application_name=self.rt.settings.name)
            self._loaded_at = self.rt.clock.monotonic()
        return self._defs

    def _start_from(self, d: ScheduleRecord, now: int) -> int:
        last = max(self.last.get(d.name, 0), d.last_fired_at or 0) or d.created_at or now
        if not d.automatic_backfill:  # only a failover's worth of missed ticks fire late,
            last = max(last, now - self.failover_window_ms, d.resumed_at or 0)  # none of a pause
        return last

    def fire_due(self, lease_valid: Callable[[], bool] = lambda: True) -> int:
        """Fire every tick due since the last one fired; stop when the lease lapses."""
        fired = 0
        now = self.rt.clock.now_ms()
        for d in self.definitions():  # a workflow this pool lacks is fired too: it waits, parked
            limit = BACKFILL_MAX if d.automatic_backfill else MAX_BACKLOG
            for tick in ticks_between(d.schedule, self._start_from(d, now), now, d.cron_timezone, limit):
                if not lease_valid():
                    log.warning("schedule_lease_lapsed", schedule=d.name, tick=tick.isoformat())
                    return fired
                self._fire(d, tick, now)
                fired += 1
                self.last[d.name] = int(tick.timestamp() * 1000)
        return fired

    def _fire(self, d: ScheduleRecord, tick: dt.datetime, now_ms: int) -> None:
        enqueue_tick(self.rt, d, tick, f"sched-{d.name}-{tick.isoformat()}")
        self.rt.db.schedules.fired(d.name, int(tick.timestamp() * 1000))
        log.debug("schedule_fired", schedule=d.name, tick=tick.isoformat())

"""The service's health, measured in the main process: the runner's loop beat, the
supervisor, the workers' shared-memory heartbeats and a database probe made by a background
thread every `interval_sec` on a fresh connection. `/healthz`, `/readyz`, `dbos-workers
health` and systemd's WATCHDOG=1 all read `HealthMonitor.report()`.

- live (healthz, watchdog): the runner loop and the supervisor's loop (its shared-memory
  beat) made a round within LOOP_STALE_SEC,
  every live worker beat within its heartbeat timeout and at least one runs, and the
  database answered within `db_stale_sec`.
- ready (readyz, READY=1): the database answered within `db_stale_sec`, its schema is
  migrated to this version, and at least one worker beat within WORKER_READY_SEC.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from ..db.health import DatabaseProbe, probe_database
from ..errors import DBOSWorkersError
from ..services import ThreadService

log = structlog.get_logger("dbos_workers.service")

LOOP_STALE_SEC = 5.0
WORKER_READY_SEC = 5.0


@dataclass
class HealthReport:
    live: bool
    ready: bool
    checks: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        c = self.checks
        return (f"workers {c.get('workers', 0)}, in flight {c.get('in_flight', '?')}, "
                f"leader {c.get('leader') or 'none'}, database {'up' if c.get('database') else 'down'}")


class HealthMonitor(ThreadService):
    name = "dbw-health"

    def __init__(self, url: str, schema: str, executor_id: str, *, heartbeat_timeout_sec: float,
                 interval_sec: float = 1.0, db_stale_sec: float = 3.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.url, self.schema, self.executor_id = url, schema, executor_id
        self.heartbeat_timeout_sec = heartbeat_timeout_sec
        self.interval_sec, self.db_stale_sec, self.clock = interval_sec, db_stale_sec, clock
        self.supervisor: Any = None  # SupervisorHandle, set once launched
        self._lock = threading.Lock()
        self._loop_beat = clock()
        self._db_ok_at: float | None = None
        self._probe: DatabaseProbe | None = None
        self._db_error: str | None = None
        self._wake_event = threading.Event()

    def loop_beat(self) -> None:
        """The runner's main loop made a round."""
        with self._lock:
            self._loop_beat = self.clock()

    def probe_now(self) -> None:
        self._wake_event.set()

    def _wake(self) -> None:
        self._wake_event.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._probe_once()
            self._wake_event.wait(self.interval_sec)
            self._wake_event.clear()

    def _probe_once(self) -> None:
        try:
            probe = probe_database(self.url, self.schema, self.executor_id,
                                   timeout_sec=max(1.0, self.db_stale_sec - 1.0))
        except DBOSWorkersError as exc:
            with self._lock:
                first = self._db_error is None
                self._db_error = str(exc)[:300]
            if first:  # the log stream keeps database errors rate-limited; one line here
                log.warning("health_database_unreachable", error=self._db_error)
            return
        with self._lock:
            recovered = self._db_error is not None
            self._db_ok_at, self._probe, self._db_error = self.clock(), probe, None
        if recovered:
            log.info("health_database_reachable")

    def report(self) -> HealthReport:
        now = self.clock()
        with self._lock:
            loop_age = now - self._loop_beat
            db_age = None if self._db_ok_at is None else now - self._db_ok_at
            probe, db_error = self._probe, self._db_error
        supervisor = self.supervisor
        beats = supervisor.worker_beats() if supervisor is not None else {}
        ages = {pid: (now - beat if beat > 0 else None) for pid, beat in beats.items()}
        fresh = [pid for pid, age in ages.items() if age is not None and age < WORKER_READY_SEC]
        stale = [pid for pid, age in ages.items()
                 if age is not None and age > self.heartbeat_timeout_sec]
        database = db_age is not None and db_age <= self.db_stale_sec
        supervisor_alive = (supervisor is not None and supervisor.is_alive()
                            and now - supervisor.loop_beat() < LOOP_STALE_SEC)
        migrated = probe is not None and probe.migrated
        checks: dict[str, Any] = {
            "loop": loop_age < LOOP_STALE_SEC, "supervisor": supervisor_alive,
            "workers": len(beats), "workers_beating": len(fresh), "workers_stale": stale,
            "database": database, "database_error": db_error, "migrated": migrated,
            "schema_version": probe.schema_version if probe else None,
            "in_flight": probe.in_flight if probe else None,
            "leader": probe.leader if probe else None,
        }
        live = (checks["loop"] and supervisor_alive and bool(beats) and not stale and database)
        ready = database and migrated and bool(fresh)
        return HealthReport(live=bool(live), ready=bool(ready), checks=checks)

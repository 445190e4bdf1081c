"""Leader election through a Postgres session advisory lock.

State machine (one per worker process):

    FOLLOWER --pg_try_advisory_lock = true--> LEADER
    FOLLOWER --false or error--> FOLLOWER (retry every `retry_sec`)
    LEADER --probe ok--> LEADER (probe the session every `probe_sec`)
    LEADER --probe error / connection lost / stop()--> FOLLOWER (the lock dies with the session)

The lock lives on a dedicated, unpooled connection with TCP keepalives: when the leader's
process or connection dies, Postgres drops the session and the lock, and another worker takes
it within `retry_sec`. At most one session holds the lock; idempotent work (deterministic
`sched-{name}-{tick}` ids inserted with ON CONFLICT DO NOTHING) is the second line of defence
against a stale leader (e.g. a frozen process whose session is not yet gone).

Session advisory locks need a direct or session-pooled connection: PgBouncer in transaction
mode would hand the lock's session to someone else.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from ..db.migrate import advisory_key
from ..db.queries import load_queries
from ..db.repository import connect_direct, mask_url
from ..runtime import Runtime

log = structlog.get_logger("dbos_workers.leader")


class Elector:
    def __init__(self, rt: Runtime, on_tick: Callable[[], None], *, retry_sec: float = 1.0,
                 probe_sec: float = 1.0) -> None:
        self.rt, self.on_tick = rt, on_tick
        self.retry_sec, self.probe_sec = retry_sec, probe_sec
        self.key = advisory_key("leader", rt.settings.schema, rt.settings.name)
        self.is_leader = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._q = {k: v.encode() for k, v in load_queries().items()}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dbos-elector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self.is_leader.is_set():
            self.is_leader.clear()
            log.info("leader_stepped_down", executor_id=self.rt.executor_id)

    def _try_acquire(self) -> bool:
        if self._conn is None:
            self._conn = connect_direct(self.rt.conninfo, keepalives=1, keepalives_idle=5,
                                        keepalives_interval=2, keepalives_count=3,
                                        application_name="dbos_workers:elector")
        row = self._conn.execute(self._q["leader_try_lock"], {"key": self.key}).fetchone()
        return bool(row and row["acquired"])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.is_leader.is_set():
                    if self._try_acquire():
                        self._become_leader()
                    else:
                        self._stop.wait(self.retry_sec)
                        continue
                self._lead_once()
            except Exception as exc:
                log.warning("elector_error", error=mask_url(str(exc))[:200])
                self._close()
                self._stop.wait(self.retry_sec)
        self._close()

    def _become_leader(self) -> None:
        self.is_leader.set()
        self.rt.repo.run("leader_record", key=self.key, instance_id=self.rt.instance_id,
                         executor_id=self.rt.executor_id, now_ms=self.rt.clock.now_ms())
        log.info("leader_elected", executor_id=self.rt.executor_id, pid=self.rt.pid)

    def _lead_once(self) -> None:
        started = time.monotonic()
        self._conn.execute(self._q["session_health_check"]).fetchone()  # our session still holds it
        self.on_tick()
        self._stop.wait(max(0.0, self.probe_sec - (time.monotonic() - started)))

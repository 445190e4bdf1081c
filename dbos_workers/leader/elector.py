"""Leader election: a Postgres session advisory lock plus a lease renewed in the `leader` row.

State machine (one per worker process):

    FOLLOWER --try-lock = true (the same statement records this session's backend pid and
              renewed_at in the leader row)--> LEADER
    FOLLOWER --try-lock = false, leader row renewed within the lease--> FOLLOWER (retry every
              `retry_sec`)
    FOLLOWER --try-lock = false, leader row not renewed for `executor_lease_sec`--> terminate
              the lock holder's backend (`leader_fenced_stale`), try-lock again at once
    FOLLOWER --error--> FOLLOWER (reconnect, retry every `retry_sec`)
    LEADER --renew ok--> LEADER (renew, then tick, every `probe_sec` <= lease / 4)
    LEADER --renew error / no row / connection lost / stop()--> FOLLOWER (the lock dies with the
              session)

The lock lives on a dedicated, unpooled connection with TCP keepalives: when the leader's
process or connection dies, Postgres drops the session and the lock, and another worker takes
it within `retry_sec`. A leader that is alive but frozen (SIGSTOP, a paused VM, a stalled
thread) keeps its session and its lock; it also stops renewing, so a follower fences it by
terminating its backend (found in pg_locks and matched against the pid in the leader row).
When the frozen leader resumes, its next renewal fails on the dead session and it steps down.
Until then it does not start a cron tick once its own lease has lapsed (`lease_valid`), and
idempotent work (deterministic `sched-{name}-{tick}` ids inserted with ON CONFLICT DO NOTHING)
is the second line of defence against the moment both believe they lead.

The lease is written and compared on the database's clock (db_now_ms() in the statements),
never a host's: a follower whose clock runs 30 s fast must not see a live leader as stale.
How long this process itself may still act (`lease_valid`) is a duration on its own
monotonic clock.
Fencing needs the right to terminate the leader's backend (the same database role, or
pg_signal_backend) and Postgres 14+. Session advisory locks need a direct or session-pooled
connection: PgBouncer in transaction mode would hand the lock's session to someone else.
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
from ..db.repository import Row, compose, connect_direct, mask_url
from ..errors import DBOSWorkersError
from ..runtime import Runtime
from ..service import ThreadService

log = structlog.get_logger("dbos_workers.leader")
FENCE_WAIT_MS = 1000  # how long a fence waits for the terminated backend to exit


class LeadershipLostError(DBOSWorkersError):
    """The leader row no longer names this session: another session leads."""


class Elector(ThreadService):
    thread_name = "dbos-elector"

    def __init__(self, rt: Runtime, on_tick: Callable[[], None], *, retry_sec: float = 1.0,
                 probe_sec: float = 1.0) -> None:
        self.rt, self.on_tick = rt, on_tick
        self.lease_sec = rt.settings.executor_lease_sec
        self.retry_sec, self.probe_sec = retry_sec, min(probe_sec, self.lease_sec / 4)
        self.key = advisory_key("leader", rt.settings.schema, rt.settings.name)
        self.is_leader = threading.Event()
        self.term = 0  # incremented on every election won by this process
        self._renewed = 0.0  # monotonic time just before the last successful renewal
        super().__init__()
        self._conn: Any = None
        queries = load_queries()
        self._setup = compose(queries["leader_session_setup"], schema=rt.settings.schema)
        self._q = {k: v.encode() for k, v in queries.items()}

    def _stopped(self) -> None:
        self._close()

    def lease_valid(self) -> bool:
        """True while this process leads and its last renewal is younger than the lease (a
        follower may fence a leader after that, so it must not start new work)."""
        return self.is_leader.is_set() and time.monotonic() - self._renewed < self.lease_sec

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self.is_leader.is_set():
            self.is_leader.clear()
            log.info("leader_stepped_down", executor_id=self.rt.executor_id)

    def _one(self, statement: bytes, **params: Any) -> Row | None:
        row: Row | None = self._conn.execute(statement, params).fetchone()
        return row

    def _connect(self) -> None:
        self._conn = connect_direct(self.rt.conninfo, keepalives=1, keepalives_idle=5,
                                    keepalives_interval=2, keepalives_count=3,
                                    application_name="dbos_workers:elector")
        self._conn.execute(self._setup)

    def _try_acquire(self) -> bool:
        if self._conn is None:
            self._connect()
        return self._acquire() or (self._fence_stale() and self._acquire())

    def _acquire(self) -> bool:
        mark = time.monotonic()
        row = self._one(self._q["leader_try_lock"], key=self.key, instance_id=self.rt.instance_id,
                        executor_id=self.rt.executor_id)
        if row and row["acquired"]:
            self._renewed = mark
            return True
        return False

    def _fence_stale(self) -> bool:
        """Terminate the lock holder's session if its lease lapsed; True when one was."""
        row = self._one(self._q["leader_fence_stale"], key=self.key,
                        lease_ms=int(self.lease_sec * 1000), wait_ms=FENCE_WAIT_MS)
        if row is None or not row["terminated"]:
            return False
        log.warning("leader_fenced_stale", executor_id=self.rt.executor_id,
                    fenced_executor_id=row["executor_id"], fenced_instance_id=row["instance_id"],
                    fenced_backend_pid=row["backend_pid"], stale_ms=row["stale_ms"])
        return True

    def _renew(self) -> None:
        mark = time.monotonic()
        row = self._one(self._q["leader_renew"], key=self.key, instance_id=self.rt.instance_id)
        if row is None:
            raise LeadershipLostError("the leader row names another session")
        self._renewed = mark

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
        self.term += 1
        self.is_leader.set()
        log.info("leader_elected", executor_id=self.rt.executor_id, pid=self.rt.pid, term=self.term)

    def _lead_once(self) -> None:
        started = time.monotonic()
        self._renew()  # fails once our session is gone: fenced, terminated or disconnected
        self.on_tick()
        self._stop.wait(max(0.0, self.probe_sec - (time.monotonic() - started)))

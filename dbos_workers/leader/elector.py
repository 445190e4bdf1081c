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

import threading
import time
from collections.abc import Callable

import structlog

from ..db.leader import LeaderSession
from ..runtime import Runtime
from ..services import ThreadService

log = structlog.get_logger("dbos_workers.leader")
Listener = Callable[[bool, int], None]  # (leading, term)


class Elector(ThreadService):
    """The state machine above; `on_tick` runs on the elector's thread after each renewal,
    and subscribers hear every change of leadership (leading, term) on the same thread."""

    name = "dbos-elector"

    def __init__(self, rt: Runtime, on_tick: Callable[[], None], *, retry_sec: float = 1.0,
                 probe_sec: float = 1.0) -> None:
        self.rt, self.on_tick = rt, on_tick
        self.lease_sec = rt.settings.executor_lease_sec
        self.retry_sec, self.probe_sec = retry_sec, min(probe_sec, self.lease_sec / 4)
        self.session = LeaderSession(rt.conninfo, rt.settings.schema, rt.settings.name,
                                     instance_id=rt.instance_id, executor_id=rt.executor_id)
        self.key = self.session.key
        self.is_leader = threading.Event()
        self.term = 0  # incremented on every election won by this process
        self._renewed = 0.0  # monotonic time just before the last successful renewal
        self._listeners: list[Listener] = []
        super().__init__()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _publish(self) -> None:
        for listener in self._listeners:
            try:
                listener(self.is_leader.is_set(), self.term)
            except Exception as exc:
                log.warning("leader_listener_failed", error=repr(exc)[:200])

    def _stopped(self) -> None:
        self._step_down()

    def lease_valid(self) -> bool:
        """True while this process leads and its last renewal is younger than the lease (a
        follower may fence a leader after that, so it must not start new work)."""
        return self.is_leader.is_set() and time.monotonic() - self._renewed < self.lease_sec

    def _step_down(self) -> None:
        self.session.close()
        if self.is_leader.is_set():
            self.is_leader.clear()
            log.info("leader_stepped_down", executor_id=self.rt.executor_id)
            self._publish()

    def _try_acquire(self) -> bool:
        mark = time.monotonic()
        if self.session.try_lock():
            self._renewed = mark
            return True
        fenced = self.session.fence_stale(int(self.lease_sec * 1000))
        if fenced is None:
            return False
        log.warning("leader_fenced_stale", executor_id=self.rt.executor_id,
                    fenced_executor_id=fenced.executor_id, fenced_instance_id=fenced.instance_id,
                    fenced_backend_pid=fenced.backend_pid, stale_ms=fenced.stale_ms)
        mark = time.monotonic()
        if self.session.try_lock():
            self._renewed = mark
            return True
        return False

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
            except Exception as exc:  # database errors arrive translated (passwords masked)
                log.warning("elector_error", error=str(exc)[:200])
                self._step_down()
                self._stop.wait(self.retry_sec)
        self._step_down()

    def _become_leader(self) -> None:
        self.term += 1
        self.is_leader.set()
        log.info("leader_elected", executor_id=self.rt.executor_id, pid=self.rt.pid, term=self.term)
        self._publish()

    def _lead_once(self) -> None:
        started = time.monotonic()
        mark = started
        self.session.renew()  # fails once our session is gone: fenced, terminated or disconnected
        self._renewed = mark
        self.on_tick()
        self._stop.wait(max(0.0, self.probe_sec - (time.monotonic() - started)))

"""A worker process: after fork it builds its own pool and LISTEN connection, recovers its
slot's dead PENDING work, then claims and runs queued workflows until told to drain.

Drain (SIGTERM/SIGINT): stop claiming at once, let in-flight workflows finish for up to the
drain timeout, then hand what still runs back to its queue (no attempt burned) and exit 0.
Only SIGQUIT (the supervisor's hard stop) cuts the wait short: a repeated SIGTERM is the same
drain, because a process-group signal (systemd, Ctrl-C) reaches the worker directly and again
as the supervisor's forward.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import structlog

from ..config import Settings
from ..db.repository import Backoff, Row
from ..errors import DatabaseUnavailableError
from ..leader.service import LeaderService
from ..logging import bind_process, configure
from ..recovery import dead_pending, execute
from ..registry import INTERNAL_QUEUE, Registry
from ..runtime import Runtime, set_process_runtime
from .affinity import pin_worker
from .claimer import Claimer
from .heartbeat import Heartbeat

log = structlog.get_logger("dbos_workers.worker")
BOOT_ERROR = 3
GATHER_SEC = 0.003


class Worker:
    def __init__(self, settings: Settings, registry: Registry, conninfo: str, wctx: Any) -> None:
        self.settings, self.wctx = settings, wctx
        executor_id = f"{settings.executor_id}/{wctx.slot}"
        threads = settings.worker_threads
        self.rt = Runtime(settings=settings, registry=registry, conninfo=conninfo,
                          executor_id=executor_id, role="worker", pool_size=min(threads, 16) + 4,
                          threads=threads)
        self.drain = threading.Event()
        self.hard_stop = threading.Event()
        queues = list(registry.queues.values())
        self.claimer = Claimer(self.rt, queues, threads, self._dispatch, stopped=self.drain)
        self.rt.writers.outcomes.linger = lambda: self.claimer.budget.linger(threads)
        self.in_flight: set[str] = set()
        self._lock = threading.Lock()
        self.heartbeat = Heartbeat(self.rt, wctx, self.drain)
        self.leader = LeaderService(self.rt)
        set_process_runtime(self.rt)

    def _signal(self, signum: int, _: Any) -> None:
        if signum == signal.SIGQUIT:
            self.hard_stop.set()
        self.drain.set()
        self.claimer.wake.set()

    def _dispatch(self, row: Row, token: str) -> None:
        with self._lock:
            self.in_flight.add(row["workflow_uuid"])
        self.rt.pool.submit(self._execute, row, token)

    def _execute(self, row: Row, token: str) -> None:
        deferred = False
        cpu = time.thread_time()
        try:
            deferred = execute(self.rt, row, token, on_durable=lambda failure: self._done(row, failure))
        except Exception as exc:
            self.rt.log.error("workflow_execute_failed", workflow_id=row["workflow_uuid"],
                              error=repr(exc)[:300])
        finally:
            self.claimer.ran(time.thread_time() - cpu)
            if not deferred:
                self._done(row, None)

    def _done(self, row: Row, failure: BaseException | None) -> None:
        """The workflow's outcome is durable (or its write failed: the row stays PENDING and
        the orphan sweep hands it back): free its slot."""
        if failure is not None:
            self.rt.log.error("workflow_outcome_write_failed", workflow_id=row["workflow_uuid"],
                              error=repr(failure)[:300])
        with self._lock:
            self.in_flight.discard(row["workflow_uuid"])
        self.claimer.finished(row["queue_name"])

    def boot(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, self._signal)
        backoff = Backoff(first=0.1, cap=2.0, total=float("inf"))
        while not self.drain.is_set():
            try:
                self.rt.start()
                break
            except DatabaseUnavailableError as exc:
                log.warning("worker_database_unavailable", error=str(exc)[:200])
                backoff.wait()
        self.heartbeat.start()
        self._recover_slot()
        self.leader.start()

    def _recover_slot(self) -> None:
        """Hand the dead predecessor's PENDING rows of this slot back to their queues."""
        rows = dead_pending(self.rt, self.rt.executor_id)
        if rows:
            self._requeue([r["workflow_uuid"] for r in rows], refund=0)
            self.rt.log.info("slot_recovered", workflows=len(rows))

    def _requeue(self, workflow_ids: list[str], refund: int) -> None:
        self.rt.repo.all("workflow_requeue", workflow_ids=workflow_ids, refund=refund,
                         default_queue=INTERNAL_QUEUE, now_ms=self.rt.clock.now_ms(),
                         channel=self.settings.channel)

    def _sweep_orphans(self) -> None:
        """Rows claimed by this instance whose claim reply was lost (connection drop)."""
        rows = self.rt.repo.all("workflow_pending_of_instance", executor_id=self.rt.executor_id,
                                instance_id=self.rt.instance_id)
        with self._lock:
            orphans = [r["workflow_uuid"] for r in rows if r["workflow_uuid"] not in self.in_flight]
        if orphans:
            self._requeue(orphans, refund=1)
            self.rt.log.warning("orphans_requeued", workflows=len(orphans))

    def loop(self) -> None:
        poll = self.settings.polling_interval_sec
        backoff: Backoff | None = None
        last_sweep = time.monotonic()
        while not self.drain.is_set():
            self.claimer.wake.clear()
            free = self.claimer.free()
            try:
                claimed = self.claimer.claim_once() if free > 0 else 0
                if time.monotonic() - last_sweep > 30:
                    self._sweep_orphans()
                    last_sweep = time.monotonic()
                backoff = None
            except DatabaseUnavailableError as exc:
                backoff = backoff or Backoff(first=0.1, cap=2.0, total=float("inf"))
                log.warning("claim_failed", error=str(exc)[:200])
                backoff.wait()
                continue
            if free > 0 and claimed < free:
                # Drained: sleep until a NOTIFY, the poll, or a finishing workflow (want is 1
                # outside _gather). Producers coalesce their NOTIFYs to one per 10 ms under
                # load; claiming again when a workflow finishes starts what was enqueued in
                # between. Without it, steady-state enqueue->start p50 went from 4 to 9 ms.
                self.claimer.wake.wait(poll)
            else:
                self._gather()

    def _gather(self) -> None:
        """A backlog: wait until a quarter of the slots are free, so the next claim is a batch
        and not one row per finished workflow (each claim is a commit), but claim what is free
        `window` after the first slot freed up. Finishing workflows wake this thread only at
        those two points (Claimer.want), not once each: every wake-up takes the GIL from the
        workflows that run."""
        c = self.claimer
        threshold = max(1, c.limit() // 4)
        window = c.budget.gather_sec(GATHER_SEC)
        deadline: float | None = None  # set once a slot is free
        try:
            while not self.drain.is_set():
                c.want = 1 if deadline is None else threshold
                c.wake.clear()
                free, now = c.free(), time.monotonic()
                if free >= threshold or (deadline is not None and free > 0 and now >= deadline):
                    return
                if (free == 0) != (deadline is None):  # the wake-up point changes: re-arm
                    deadline = None if free == 0 else now + window
                    continue
                c.wake.wait(1.0 if deadline is None else deadline - now)
        finally:
            c.want = 1

    def shutdown(self) -> None:
        timeout = self.wctx.drain_timeout_sec()
        self.drain.set()
        with self.claimer.claim_lock:  # a claim under way (listener thread) dispatches first
            pass
        self.rt.log.info("worker_draining", in_flight=len(self.in_flight), timeout=timeout)
        if not self.hard_stop.is_set():
            deadline = time.monotonic() + timeout
            while self.in_flight and time.monotonic() < deadline and not self.hard_stop.is_set():
                self.rt.wait_idle(min(0.1, max(0.0, deadline - time.monotonic())))
        self.leader.stop()
        self.rt.draining.set()
        with self._lock:
            left = list(self.in_flight)
        if left:
            self._requeue(left, refund=1)
            self.rt.log.info("workflows_handed_back", workflows=len(left))
        self.heartbeat.stop()
        self.rt.stop(wait_threads=False)


def run_worker(settings: Settings, registry: Registry, conninfo: str, wctx: Any) -> int:
    configure(settings.log_level)
    bind_process(pid=os.getpid(), slot=wctx.slot, executor_id=f"{settings.executor_id}/{wctx.slot}")
    # before any thread starts (they inherit it)
    cpu = pin_worker(wctx.slot, settings.worker_processes, settings.worker_cpu_affinity)
    if cpu is not None:
        log.info("worker_pinned", cpu=cpu)
    try:
        worker = Worker(settings, registry, conninfo, wctx)
        worker.boot()
    except Exception as exc:
        log.error("worker_boot_failed", error=repr(exc)[:500])
        return BOOT_ERROR
    try:
        worker.loop()
    finally:
        worker.shutdown()
    return 0


"""A worker process: after fork it builds its own pool and LISTEN connection, recovers its
slot's dead PENDING work, then claims and runs queued workflows until told to drain.

Boot order (`boot`): the runtime's services (database pool, listener, executor registration,
group commit, executor threads), the heartbeat, slot recovery, the leader role, the claim
loop. Drain order (`drain`): stop claiming, let in-flight workflows finish for up to the drain
timeout, stop leading, hand back what still runs (no attempt burned), stop the heartbeat,
stop the runtime. The main thread only boots, waits for a signal and drains.

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

from .. import metrics
from ..config import Settings
from ..db.repository import Backoff
from ..errors import DatabaseUnavailableError
from ..leader.role import LeaderRole
from ..logging import bind_process, configure
from ..registry import Registry
from ..runtime import Runtime, set_process_runtime
from ..supervisor_link import WORKER_BOOT_ERROR
from .affinity import pin_worker
from .executor import Executor
from .heartbeat import Heartbeat
from .recovery import recover_slot

log = structlog.get_logger("dbos_workers.worker")


class Worker:
    def __init__(self, settings: Settings, registry: Registry, conninfo: str, wctx: Any) -> None:
        self.settings, self.wctx = settings, wctx
        threads = settings.worker_threads
        self.rt = Runtime(settings=settings, registry=registry, conninfo=conninfo,
                          executor_id=f"{settings.executor_id}/{wctx.slot}", role="worker",
                          pool_size=settings.worker_pool_size, threads=threads)
        self.drain_requested = threading.Event()
        self.hard_stop = threading.Event()
        self.executor = Executor(self.rt, threads)
        self.heartbeat = Heartbeat(self.rt, wctx, on_orphaned=self.drain_requested.set)
        self.leader = LeaderRole(self.rt)
        set_process_runtime(self.rt)

    def _signal(self, signum: int, _: Any) -> None:
        if signum == signal.SIGQUIT:
            self.hard_stop.set()
        self.drain_requested.set()

    def boot(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, self._signal)
        backoff = Backoff(first=0.1, cap=2.0, total=float("inf"))
        while not self.drain_requested.is_set():
            try:
                self.rt.start()
                break
            except DatabaseUnavailableError as exc:
                log.warning("worker_database_unavailable", error=str(exc)[:200])
                backoff.wait()
        if self.drain_requested.is_set():
            return  # told to stop before the database answered
        self.heartbeat.start()
        recover_slot(self.rt)
        self.leader.start()
        self.executor.start()

    def wait(self) -> None:
        """The main thread sleeps here (signals interrupt it) until a drain is requested."""
        while not self.drain_requested.wait(1.0):
            pass

    def drain(self) -> None:
        timeout = self.wctx.drain_timeout_sec()
        self.executor.stop(5.0)
        self.rt.log.info("worker_draining", in_flight=len(self.rt.inflight), timeout=timeout)
        deadline = time.monotonic() + timeout
        while (len(self.rt.inflight) and not self.hard_stop.is_set()
               and time.monotonic() < deadline):
            self.rt.inflight.wait_idle(min(0.1, max(0.0, deadline - time.monotonic())))
        self.leader.stop()
        self.rt.draining.set()  # what still runs stops at its next step
        self.executor.hand_back()
        self.heartbeat.stop()
        self.rt.stop()
        metrics.batch_done()  # what the hooks gathered since the last batch


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
        return WORKER_BOOT_ERROR
    try:
        worker.wait()
    finally:
        worker.drain()
    return 0

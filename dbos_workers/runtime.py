"""The per-process runtime: settings, repository, listener, thread pool and the set of
workflows this process is running. The DBOS singleton and each worker own one."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from .clock import Clock, DatabaseClock
from .completer import Writers
from .config import Settings
from .context import WorkflowContext
from .db.listener import Listener, Waiters, wake_key
from .db.repository import Repository, Row
from .notifier import QueueWakeCoalescer
from .osname import name_thread
from .pool import ThreadPool
from .proc import process_identity
from .registry import Registry

log = structlog.get_logger("dbos_workers.runtime")


@dataclass
class Runtime:
    settings: Settings
    registry: Registry
    conninfo: str
    executor_id: str
    role: str
    pool_size: int
    threads: int
    clock: Clock = field(default_factory=DatabaseClock)
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    def __post_init__(self) -> None:
        s = self.settings
        self.serializer = s.serializer
        self.repo = Repository(self.conninfo, schema=s.schema, channel=s.channel,
                               pool_size=self.pool_size, app_name=f"dbos_workers:{self.role}")
        self.waiters = Waiters()
        # Workers need runnable-work wake-ups; every process needs cancellations; the done
        # channel (completions, messages, events) is subscribed to by whoever waits on one.
        first = s.channel if self.role == "worker" else s.done_channel
        self.listener = Listener(self.conninfo, first, self.waiters)
        self.listener.subscribe(s.cancel_channel)
        self.pool = ThreadPool(self.threads, f"dbos-{self.role}")
        self.active: dict[str, WorkflowContext] = {}
        self.active_lock = threading.Lock()
        self.idle = threading.Condition(self.active_lock)
        self.coalescer = QueueWakeCoalescer(self._send_queue_wake)
        self.writers = Writers(self.repo, s.channel, self.clock)
        self.log = log.bind(executor_id=self.executor_id, pid=self.pid, role=self.role)
        self.draining = threading.Event()
        self.closed = False
        self.waiters.on_cancel(self._stop_if_active)

    def listen_done(self, timeout: float = 5.0) -> None:
        """Before waiting on a completion, message or event: make sure this process LISTENs on
        the done channel (a no-op after the first time)."""
        self.listener.subscribe(self.settings.done_channel).wait(timeout)

    def _stop_if_active(self, key: str) -> None:
        """An `x:` for a workflow running here: it was cancelled; it stops at its next step."""
        with self.active_lock:
            ctx = self.active.get(key)
            if ctx is None and key.startswith("#"):
                ctx = next((c for w, c in self.active.items() if wake_key("", w) == key), None)
        if ctx is not None:
            ctx.cancelled.set()

    def _send_queue_wake(self, queue: str) -> None:
        self.repo.one("queue_wake", channel=self.settings.channel, queue=queue)

    def start(self) -> None:
        self.repo.open()
        self.listener.start()
        ticks, boot_id = process_identity(self.pid)
        self._timed(lambda: self.repo.one(
            "executor_register", instance_id=self.instance_id, executor_id=self.executor_id,
            host=self.host, pid=self.pid, role=self.role, proc_start_ticks=ticks, boot_id=boot_id))

    def start_lease(self) -> None:
        """Keep this instance's lease fresh (the app process; workers beat in their service)."""
        every = max(0.5, self.settings.executor_lease_sec / 3)

        def loop() -> None:
            name_thread()
            while not self.draining.wait(every):
                try:
                    self.heartbeat()
                except Exception as exc:
                    self.log.warning("lease_heartbeat_failed", error=str(exc)[:200])

        threading.Thread(target=loop, name="dbos-lease", daemon=True).start()

    def heartbeat(self) -> None:
        self._timed(lambda: self.repo.one("executor_heartbeat", instance_id=self.instance_id,
                                          retry=False))

    def _timed(self, query: Callable[[], Row | None]) -> None:
        """Run a lease query that returns the database's time; re-estimate the clock offset."""
        clock = self.clock
        if not isinstance(clock, DatabaseClock):
            query()
            return
        sent = clock.local_ms()
        row = query()
        if row is not None:
            clock.sample(sent, int(row["db_now_ms"]), clock.local_ms())

    def stop(self, wait_threads: bool = False) -> None:
        self.closed = True
        self.coalescer.close()
        self.pool.shutdown(wait=wait_threads, cancel_pending=True)
        if not self.writers.close(timeout=5.0):
            self.log.warning("group_commit_close_timeout")
        self.listener.stop()
        try:
            self.repo.run("executor_stopped", instance_id=self.instance_id, retry=False)
        except Exception as exc:
            self.log.warning("executor_stop_record_failed", error=str(exc)[:200])
        self.repo.close()

    # Active workflows ---------------------------------------------------------------
    def add_active(self, ctx: WorkflowContext) -> None:
        with self.active_lock:
            self.active[ctx.workflow_id] = ctx

    def remove_active(self, workflow_id: str) -> None:
        with self.active_lock:
            self.active.pop(workflow_id, None)
            self.idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        deadline = self.clock.monotonic() + timeout
        with self.active_lock:
            while self.active:
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0:
                    return False
                self.idle.wait(remaining)
        return True


_process_runtime: Runtime | None = None


def set_process_runtime(rt: Runtime | None) -> None:
    """The runtime that decorated functions use in this process (app or worker)."""
    global _process_runtime
    _process_runtime = rt


def process_runtime() -> Runtime | None:
    return _process_runtime

"""The per-process runtime: settings, the system database, the listener, executor threads,
group commit and the in-flight ledger. The DBOS singleton (app process) and each worker own
one; `start()` boots its services in the order below and `stop()` stops them in reverse."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import InitVar, dataclass, field

import structlog

from .aio.loop import AioState
from .clock import Clock, DatabaseClock
from .config import Settings
from .db.listener import Listener, Waiters, wake_key
from .db.repository import Repository
from .db.system import SystemDatabase
from .errors import DBOSNotLaunchedError
from .groupcommit import Writers
from .inflight import InFlight
from .lease import Lease
from .notifier import QueueWakeCoalescer
from .proc import process_identity
from .registry import Registry
from .services import Hooks, ServiceGroup, ThreadService
from .threads import ThreadPool

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
    store: InitVar[SystemDatabase | None] = None  # unit tests inject a fake
    db: SystemDatabase = field(init=False)
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    def __post_init__(self, store: SystemDatabase | None) -> None:
        s = self.settings
        self.serializer = s.serializer
        if store is None:
            repo = Repository(self.conninfo, schema=s.schema, channel=s.channel,
                              pool_size=self.pool_size, app_name=f"dbos_workers:{self.role}")
            store = SystemDatabase(repo, s.channel, self.clock)
        self.db = store
        self.waiters = Waiters()
        # Workers need runnable-work wake-ups; every process needs cancellations; the done
        # channel (completions, messages, events) is subscribed to by whoever waits on one.
        first = s.channel if self.role == "worker" else s.done_channel
        self.listener = Listener(self.conninfo, first, self.waiters)
        self.listener.subscribe(s.cancel_channel)
        if self.role == "worker":
            self.listener.subscribe(s.parked_channel)
        self.executor_threads = ThreadPool(self.threads, f"dbos-{self.role}")
        self.inflight = InFlight()
        self.coalescer = QueueWakeCoalescer(self.db.queues.wake)
        self.writers = Writers(self.db)
        self.log = log.bind(executor_id=self.executor_id, pid=self.pid, role=self.role)
        self.draining = threading.Event()
        self.lease = Lease(s.executor_lease_sec)
        self.closed = False
        self.waiters.on_cancel(self.cancel_local)
        self.aio = AioState(self)  # async workflows: the loop thread and async pools, on first use
        # Boot order; stop() runs it backwards (the pool closes last, after the executor
        # instance recorded its clean stop; nothing is submitted once the threads stop).
        self.services = ServiceGroup(
            Hooks("database-pool", self.db.open, lambda _: self.db.close()),
            self.listener,
            Hooks("executor-registration", self._register, lambda _: self._record_stop()),
            self.writers,
            self.executor_threads,
            self.aio,
            self.coalescer,
        )

    def start(self) -> None:
        self.services.start()

    def stop(self) -> None:
        self.closed = True
        if not self.services.stop(10.0):
            self.log.warning("runtime_stop_incomplete")

    # The executor instance and its lease -----------------------------------------------------
    def _register(self) -> None:
        ticks, boot_id = process_identity(self.pid)
        sent, sent_mono = self._local_ms(), time.monotonic()
        db_ms = self.db.executors.register(
            instance_id=self.instance_id, executor_id=self.executor_id, host=self.host,
            pid=self.pid, role=self.role, proc_start_ticks=ticks, boot_id=boot_id)
        self._clock_sample(sent, db_ms)
        self.lease.renewed(sent_mono)

    def heartbeat(self) -> None:
        """Renew this instance's lease (and re-estimate the clock's offset)."""
        sent, sent_mono = self._local_ms(), time.monotonic()
        db_ms = self.db.executors.heartbeat(self.instance_id)
        self._clock_sample(sent, db_ms)
        self.lease.renewed(sent_mono, found=db_ms is not None)

    def _local_ms(self) -> int:
        clock = self.clock
        return clock.local_ms() if isinstance(clock, DatabaseClock) else clock.now_ms()

    def _clock_sample(self, sent_ms: int, db_ms: int | None) -> None:
        if db_ms is not None and isinstance(self.clock, DatabaseClock):
            self.clock.sample(sent_ms, db_ms, self.clock.local_ms())

    def _record_stop(self) -> None:
        try:
            self.db.executors.stopped(self.instance_id)
        except Exception as exc:
            self.log.warning("executor_stop_record_failed", error=str(exc)[:200])

    # Wake-ups --------------------------------------------------------------------------------
    def listen_done(self, timeout: float = 5.0) -> None:
        """Before waiting on a completion, message or event: make sure this process LISTENs on
        the done channel (a no-op after the first time)."""
        self.listener.subscribe(self.settings.done_channel).wait(timeout)

    def cancel_local(self, key: str) -> None:
        """An `x:` (or a local cancel) for a workflow running here: it stops at its next step."""
        ctx = self.inflight.context(key)
        if ctx is None and key.startswith("#"):
            ctx = next((c for c in self.inflight.contexts() if wake_key("", c.workflow_id) == key), None)
        if ctx is not None:
            ctx.cancelled.set()


class LeaseHeartbeat(ThreadService):
    """The app process's lease: renew it every third of the lease (workers beat in their own
    Heartbeat, which also feeds the supervisor)."""

    name = "dbos-lease"

    def __init__(self, rt: Runtime) -> None:
        super().__init__()
        self.rt = rt
        self.every = max(0.5, rt.settings.executor_lease_sec / 3)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.rt.heartbeat()
            except Exception as exc:
                self.rt.log.warning("lease_heartbeat_failed", error=str(exc)[:200])


_process_runtime: Runtime | None = None


def set_process_runtime(rt: Runtime | None) -> None:
    """The runtime that decorated functions use in this process (app or worker)."""
    global _process_runtime
    _process_runtime = rt


def process_runtime() -> Runtime | None:
    return _process_runtime


def current_runtime() -> Runtime:
    """This process's runtime, or DBOSNotLaunchedError."""
    rt = _process_runtime
    if rt is None:
        raise DBOSNotLaunchedError()
    return rt

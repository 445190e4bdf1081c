"""launch / destroy / reset: the order of operations that keeps forks and pools apart.

launch(): validate, start the embedded Postgres if no URL, create the database, migrate under
an advisory lock, THEN fork the supervisor (no pool, thread or connection crosses the fork),
then open this process's pool and listener and recover its own dead PENDING workflows.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import os
import threading
import time
import warnings
from typing import Any, cast

import structlog

from . import metrics, queue_registry, tracing
from .appversion import compute_app_version
from .config import Settings
from .connections import check_autovacuum, check_budget
from .db import migrate
from .db.repository import mask_url
from .embedded import embedded_url
from .errors import DBOSNotLaunchedError, DBOSWorkersError
from .late import LateRegistrations
from .logging import configure
from .metrics.run import MetricsRun
from .queue import internal_queue
from .registry import INTERNAL_QUEUE, Registry
from .runtime import LeaseHeartbeat, Runtime, set_process_runtime
from .supervisor_link import spawn_supervisor
from .worker.recovery import recover_own

log = structlog.get_logger("dbos_workers.lifecycle")

DRAIN_GRACE_SEC = 5.0
"""A worker is SIGKILLed this long after its drain timeout (hand back and exit). The default
drain_timeout_sec (20) plus this fits a platform's 30 s stop deadline (Kubernetes, Heroku)."""


class Lifecycle:
    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings, self.registry = settings, registry
        self._rt: Runtime | None = None
        self._supervisor: Any = None
        self._lease: LeaseHeartbeat | None = None
        self._late: LateRegistrations | None = None
        self._metrics: MetricsRun | None = None
        self._lock = threading.Lock()
        self.conninfo: str | None = None
        self.drain_timeout_sec = settings.drain_timeout_sec
        """Drain timeout of the worker pool when its supervisor is signalled directly (a
        process-group SIGTERM from systemd or Ctrl-C) before destroy() names one."""
        self.own_process_group = False
        """`dbos-workers start`: the supervisor leaves this process's group (the main process
        forwards the platform's signals; see service/runner.py)."""

    def database_url(self) -> str:
        if self.conninfo is None:
            s = self.settings
            self.conninfo = s.database_url or embedded_url(s.embedded_data_dir, s.name)
        return self.conninfo

    def runtime(self) -> Runtime:
        if self._rt is None:
            raise DBOSNotLaunchedError()
        return self._rt

    def workers_running(self) -> bool:
        return self._supervisor is not None

    def launch(self) -> None:
        with self._lock:
            if self._rt is not None:
                warnings.warn("DBOS.launch() called twice; ignoring the second call",
                              UserWarning, stacklevel=3)
                return
            configure(self.settings.log_level)
            internal_queue()
            if not self.settings.application_version:  # neither config nor DBOS__APPVERSION
                self.settings = dataclasses.replace(self.settings, application_version=compute_app_version(
                    self.registry, self.settings.name))
            s = self.settings
            url = self.database_url()
            migrate.ensure_database(url)
            migrate.migrate(url, s.schema)
            self._metrics = MetricsRun.begin(s)  # before the fork: workers inherit it
            tracing.configure(s)
            if s.worker_processes > 0:
                self._supervisor = self._spawn_workers(url)
            rt = Runtime(settings=s, registry=self.registry, conninfo=url,
                         executor_id=s.executor_id, role="app",
                         pool_size=s.pool_size, threads=s.max_executor_threads)
            rt.start()
            check_budget(rt)
            if s.worker_processes > 0:  # a pool's host: say when nothing will vacuum its tables
                check_autovacuum(rt)
            if self._metrics is not None:
                self._metrics.attach_runtime(rt)
            self._lease = LeaseHeartbeat(rt)
            self._lease.start()
            self._register_queues(rt)
            self._late = LateRegistrations(rt, self.registry)
            self._late.start()
            self._rt = rt
            set_process_runtime(rt)
            recovered = recover_own(rt)
            # Registered after the embedded Postgres's own exit hook, so it runs first: the
            # pool drains and the pools close before the server stops (and before
            # multiprocess's hook, which would only SIGTERM the supervisor).
            atexit.register(self._at_exit)
            rt.log.info("dbos_launched", database=mask_url(url), schema=s.schema,
                        workers=s.worker_processes, recovered=len(recovered))

    def _spawn_workers(self, url: str) -> Any:
        from .worker.main import run_worker

        s = self.settings
        main = functools.partial(run_worker, s, self.registry, url)
        return spawn_supervisor(main, workers=s.worker_processes,
                                heartbeat_timeout_sec=s.heartbeat_timeout_sec,
                                drain_timeout_sec=self.drain_timeout_sec,
                                drain_grace_sec=DRAIN_GRACE_SEC,
                                own_process_group=self.own_process_group,
                                name=f"dbos-workers:{s.name}")

    def _register_queues(self, rt: Runtime) -> None:
        rt.db.queues.register_version(self.settings.name, self.settings.application_version)
        # the internal queue has no row: every process serves it, and a second application on
        # this schema would be refused it. One transaction for all (queue_registry.register_all).
        declared = [q for q in list(self.registry.queues.values()) if q.name != INTERNAL_QUEUE]
        queue_registry.register_all(rt, [(q, cast(queue_registry.OnConflict, q.on_conflict)) for q in declared])

    def listen_queues(self, queues: list[str]) -> None:
        if self._rt is not None:
            raise DBOSWorkersError("listen_queues called after DBOS is launched")
        if self.registry.listen is not None:
            raise DBOSWorkersError("listen_queues called more than once")
        self.registry.listen = list(queues)

    def _at_exit(self) -> None:
        """The interpreter exits without DBOS.destroy(): stop cleanly (timeout 0). Not in a
        forked child that exits normally: the pools and the supervisor are the parent's."""
        rt = self._rt
        if rt is not None and rt.pid == os.getpid():
            self.destroy(0.0)

    def destroy(self, timeout_sec: float) -> None:
        """Drain the worker pool and this process's own workflows for up to timeout_sec (one
        deadline for both), hand back what still runs here, close the pools."""
        atexit.unregister(self._at_exit)
        self.registry.listen = None  # listen_queues holds for one launch
        deadline = time.monotonic() + max(0.0, float(timeout_sec))
        with self._lock:
            supervisor, self._supervisor = self._supervisor, None
            rt, self._rt = self._rt, None
            set_process_runtime(None)
        if supervisor is not None:
            supervisor.drain(float(timeout_sec))
            if not supervisor.join(float(timeout_sec) + 30.0):
                log.error("supervisor_stop_timeout", pid=supervisor.pid)
                supervisor.stop()
                supervisor.join(5.0)
        if rt is not None:
            if self._late is not None:
                self._late.stop(5.0)  # stop claiming; what it runs drains with the rest
            rt.inflight.wait_idle(max(0.0, deadline - time.monotonic()))
            rt.draining.set()
            self._hand_back(rt)
            if self._lease is not None:
                self._lease.stop(2.0)
            rt.stop()
            _close_datasources()
            rt.log.info("dbos_destroyed")
        metrics_run, self._metrics = self._metrics, None
        if metrics_run is not None:
            metrics_run.end()

    @staticmethod
    def _hand_back(rt: Runtime) -> None:
        """Workflows still running in this process go back to a queue (theirs, else the
        internal one) without burning an attempt: a clean shutdown leaves nothing PENDING."""
        left = sorted(rt.inflight.ids())
        if not left:
            return
        try:
            rt.db.workflows.requeue(left, refund=True, default_queue=INTERNAL_QUEUE,
                                    owner_instance=rt.instance_id)
            rt.log.info("workflows_handed_back", workflows=len(left))
            metrics.handed_back("drain", len(left))
        except DBOSWorkersError as exc:  # left PENDING: recovered as a stopped holder's work
            rt.log.warning("workflows_hand_back_failed", workflows=len(left), error=str(exc)[:200])

    def reset_system_database(self) -> None:
        if self._rt is not None:
            raise DBOSWorkersError("reset_system_database() must be called before launch()")
        url = self.database_url()
        migrate.ensure_database(url)
        migrate.drop_schema(url, self.settings.schema)


def _close_datasources() -> None:
    """Close this process's application-database connections (only if any were made)."""
    import sys

    if "dbos_workers.datasource" in sys.modules:
        from .datasource import close_all

        close_all()

"""Workflows, queues and schedules registered after launch() (inside functions, in tests, in
plugins). A queue registered late is written to the queues table, and the workers serve it
(they serve every queue of their application, re-read on `Q:`). A workflow registered late
is unknown to the workers, forked with the registry as it stood at launch: they park its runs
(migration 8) and the app process claims parked rows of the workflows registered after
launch. A late @DBOS.scheduled schedule is written for the leader. Nothing changes for the
common case: with nothing registered late, the app process claims nothing."""

from __future__ import annotations

import threading

from . import queue_registry
from .db.records import QueueSettings
from .registry import Registry
from .runtime import Runtime
from .worker.claimer import ClaimPlan, late_plan
from .worker.executor import Executor


class LateRegistrations:
    name = "late-registrations"

    def __init__(self, rt: Runtime, registry: Registry) -> None:
        self.rt, self.registry = rt, registry
        self.launched_names = set(registry.workflows)
        self.launched_instances = frozenset(registry.instances)
        self.executor: Executor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self.registry.on_change(self._registered)

    def stop(self, timeout: float) -> bool:
        self.registry.off_change(self._registered)
        executor, self.executor = self.executor, None
        return executor is None or executor.stop(timeout)

    def _plan(self, registry: Registry, catalog: list[QueueSettings]) -> ClaimPlan:
        return late_plan(registry, catalog, self.launched_names, self.launched_instances)

    def _registered(self, kind: str, name: str) -> None:
        rt = self.rt
        if kind == "queue":  # workers serve it once its row exists (they re-read on `Q:`)
            queue = self.registry.queues.get(name)
            if queue is not None and not queue.database_backed:  # register_queue writes its own
                queue_registry.register(rt, queue, "always_update")
            return
        elif kind == "schedule":
            for workflow_name, cron in list(self.registry.schedules):
                if workflow_name == name:
                    rt.db.schedules.register(name, name, cron)
        if kind in ("workflow", "instance"):
            self._executor().parked_due.set()
            self._executor().wake.set()

    def _executor(self) -> Executor:
        with self._lock:
            if self.executor is None:
                s = self.rt.settings
                # In effect before the registration returns: a `p:` for the new name (a worker
                # parking it once it is enqueued) or a `q:` for the new queue is not missed.
                for channel in (s.parked_channel,):
                    self.rt.listener.subscribe(channel).wait(5.0)
                self.executor = Executor(self.rt, s.max_executor_threads, self._plan)
                self.executor.start()
                self.rt.log.info("late_registrations_claiming")
            return self.executor

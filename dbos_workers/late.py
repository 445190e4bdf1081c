"""Workflows, queues and schedules registered after launch() (inside functions, in tests, in
plugins). Worker processes were forked with the registry as it stood at launch, so the app
process runs what they lack: it claims from queues registered after launch, and it claims
parked rows (see migration 8) of workflows registered after launch, which the workers park
on sight because they do not know the names. Nothing changes for the common case: with
nothing registered late, the app process claims nothing and listens to no work channel."""

from __future__ import annotations

import threading

from .registry import Registry
from .runtime import Runtime
from .worker.claimer import ClaimPlan, late_plan
from .worker.executor import Executor


class LateRegistrations:
    name = "late-registrations"

    def __init__(self, rt: Runtime, registry: Registry) -> None:
        self.rt, self.registry = rt, registry
        self.launched_queues, self.launched_names = set(registry.queues), set(registry.workflows)
        self.executor: Executor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self.registry.on_change(self._registered)

    def stop(self, timeout: float) -> bool:
        self.registry.off_change(self._registered)
        executor, self.executor = self.executor, None
        return executor is None or executor.stop(timeout)

    def _plan(self, registry: Registry) -> ClaimPlan:
        return late_plan(registry, self.launched_queues, self.launched_names)

    def _registered(self, kind: str, name: str) -> None:
        rt = self.rt
        if kind == "queue":
            queue = self.registry.queues.get(name)
            if queue is not None:
                rt.db.queues.upsert(queue.settings())
        elif kind == "schedule":
            for workflow_name, cron in list(self.registry.schedules):
                if workflow_name == name:
                    rt.db.schedules.register(name, name, cron)
        if kind in ("queue", "workflow"):
            self._executor().parked_due.set()
            self._executor().wake.set()

    def _executor(self) -> Executor:
        with self._lock:
            if self.executor is None:
                s = self.rt.settings
                # In effect before the registration returns: a `p:` for the new name (a worker
                # parking it once it is enqueued) or a `q:` for the new queue is not missed.
                for channel in (s.parked_channel, s.channel):
                    self.rt.listener.subscribe(channel).wait(5.0)
                self.executor = Executor(self.rt, s.max_executor_threads, self._plan)
                self.executor.start()
                self.rt.log.info("late_registrations_claiming")
            return self.executor

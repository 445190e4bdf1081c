"""What decorators record: workflows, steps, queues and schedules, by name."""

from __future__ import annotations

import inspect
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import DBOSConfigError, DBOSException, DBOSWorkflowFunctionNotFoundError

if TYPE_CHECKING:
    from .queue import Queue


@dataclass(frozen=True)
class WorkflowInfo:
    name: str
    func: Callable[..., Any]
    max_recovery_attempts: int | None
    module: str
    class_name: str | None = None


@dataclass(frozen=True)
class StepOptions:
    name: str
    retries_allowed: bool = False
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    should_retry: Callable[[BaseException], bool] | None = None
    preemptible: bool = False
    timeout_seconds: float | None = None
    is_async: bool = False  # an async def step: preemptible and timeout_seconds allowed

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise DBOSConfigError(f"step {self.name!r}: max_attempts must be >= 1")
        if self.interval_seconds < 0 or self.backoff_rate <= 0:
            raise DBOSConfigError(f"step {self.name!r}: interval_seconds >= 0 and backoff_rate > 0")
        # As DBOS: preemption and timeouts exist for async steps only (sync steps cannot be
        # interrupted safely).
        if self.is_async:
            return
        if self.preemptible:
            raise DBOSException(f"Step {self.name} is sync but preemptible=True. "
                                "Preemption is only supported for async steps.")
        if self.timeout_seconds is not None:
            raise DBOSException(f"Step {self.name} is sync but timeout_seconds is set. "
                                "Step timeouts are only supported for async steps.")
        if self.should_retry is not None and inspect.iscoroutinefunction(self.should_retry):
            raise DBOSException(f"Step {self.name} is sync but should_retry is async. "
                                "Use an async step to pair with an async validator.")


@dataclass
class Registry:
    workflows: dict[str, WorkflowInfo] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    instances: dict[str, Any] = field(default_factory=dict)  # "<class name>/<config name>"
    classes: dict[str, type] = field(default_factory=dict)  # @DBOS.dbos_class, by registered name
    schedules: list[tuple[str, str]] = field(default_factory=list)  # (workflow name, cron)
    lock: threading.Lock = field(default_factory=threading.Lock)
    version: int = 0  # bumped by every registration: claimers rebuild their plan when it moves
    listen: list[str] | None = None  # DBOS.listen_queues: the queues this pool serves (None: all)
    listeners: list[Callable[[str, str], None]] = field(default_factory=list)

    def on_change(self, listener: Callable[[str, str], None]) -> None:
        """listener(kind, name) after each registration ("workflow", "queue", "schedule")."""
        self.listeners.append(listener)

    def off_change(self, listener: Callable[[str, str], None]) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def _changed(self, kind: str, name: str) -> None:
        self.version += 1
        for listener in list(self.listeners):
            listener(kind, name)

    def add_workflow(self, info: WorkflowInfo) -> None:
        with self.lock:
            old = self.workflows.get(info.name)
            if old is not None and old.func is not info.func:
                if info.name.startswith(TEMP_PREFIX):
                    pass  # a step's temporary workflow: the step's own name decides (as DBOS)
                elif old.module != info.module:
                    raise DBOSConfigError(
                        f"workflow name {info.name!r} is registered twice (modules {old.module} "
                        f"and {info.module}); pass @DBOS.workflow(name=...) to tell them apart"
                    )
                warnings.warn(f"workflow {info.name!r} registered again; the new one wins",
                              UserWarning, stacklevel=4)
            self.workflows[info.name] = info
        self._changed("workflow", info.name)

    def workflow(self, name: str) -> WorkflowInfo:
        info = self.workflows.get(name)
        if info is None:
            raise DBOSWorkflowFunctionNotFoundError("<NONE>", f"{name} is not a registered workflow function")
        return info

    def add_class(self, name: str, cls: type) -> None:
        with self.lock:
            self.classes[name] = cls
        self._changed("class", name)

    def add_instance(self, key: str, inst: Any) -> None:
        """A DBOSConfiguredInstance, keyed "<class name>/<config name>"."""
        with self.lock:
            self.instances[key] = inst
        self._changed("instance", key)

    def add_queue(self, queue: Queue) -> None:
        with self.lock:
            self.queues[queue.name] = queue
        self._changed("queue", queue.name)

    def add_schedule(self, workflow_name: str, cron: str) -> None:
        with self.lock:
            self.schedules[:] = [s for s in self.schedules if s[0] != workflow_name]
            self.schedules.append((workflow_name, cron))
        self._changed("schedule", workflow_name)

    def clear(self) -> None:
        with self.lock:
            self.workflows.clear()
            self.queues.clear()
            self.instances.clear()
            self.classes.clear()
            self.schedules.clear()
            self.listen = None
            self.version += 1


def info_of(func: Callable[..., Any]) -> WorkflowInfo:
    """The registration of a function decorated with @DBOS.workflow()."""
    info = getattr(func, "__dbos_workflow__", None)
    if not isinstance(info, WorkflowInfo):
        name = getattr(func, "__qualname__", repr(func))
        raise DBOSWorkflowFunctionNotFoundError(
            "<NONE>", f"{name} is not a registered workflow function (it is not a workflow: "
            "decorate it with @DBOS.workflow())")
    return info


GLOBAL_REGISTRY = Registry()
DEFAULT_MAX_RECOVERY_ATTEMPTS = 100
INTERNAL_QUEUE = "_dbos_internal_queue"
TEMP_PREFIX = "<temp>."  # a step started or enqueued as a workflow: "<temp>.<step name>"

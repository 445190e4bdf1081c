"""The DBOS singleton: a thin façade over the registry, the app process's runtime and the
worker-pool supervisor. Almost every API is a classmethod, as in DBOS."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import structlog

from . import messages, queue_limits, queue_registry, steps
from . import workflow as wf
from .aio.api import AsyncAPI, guard_sync_apis
from .comms_api import CommsAPI
from .config import DBOSConfig, Settings, build_settings
from .context import current_step, current_workflow
from .decorators import call_args, step_decorator, step_options, workflow_decorator
from .errors import (
    DBOSConfigError,
    DBOSNonExistentWorkflowError,
    DBOSNotLaunchedError,
)
from .handle import WorkflowHandle
from .leader.cron import parse_cron
from .lifecycle import Lifecycle
from .management import Management
from .management_api import ManagementAPI
from .parity import ParityAPI, ParityMeta
from .queue import Queue, QueueRateLimit
from .registry import GLOBAL_REGISTRY, info_of
from .runtime import Runtime, process_runtime
from .status import WorkflowStatus
from .workflow_admin import WorkflowAdminAPI

F = TypeVar("F", bound=Callable[..., Any])
log = structlog.get_logger("dbos_workers")


class _DBOSMeta(ParityMeta):
    """Class-level properties (DBOS.workflow_id, DBOS.step_id, ...)."""

    @property
    def workflow_id(cls) -> str | None:
        ctx = current_workflow()
        return ctx.workflow_id if ctx else None

    @property
    def step_id(cls) -> int | None:
        step = current_step()
        return step.step_id if step else None

    @property
    def step_status(cls) -> Any:
        return current_step()

    @property
    def logger(cls) -> logging.Logger:
        return logging.getLogger("dbos")

    @property
    def executor_id(cls) -> str:
        return DBOS._rt().executor_id

    @property
    def application_version(cls) -> str:
        """This process's version: config or DBOS__APPVERSION, else computed at launch from the
        registered workflows' source (appversion.py)."""
        return DBOS._get().lifecycle.settings.application_version

    @property
    def sql_session(cls) -> Any:
        """2.x: the SQLAlchemy Session of the running @DBOS.transaction()."""
        from .datasource import current_session

        return current_session()


class DBOS(CommsAPI, ParityAPI, WorkflowAdminAPI, ManagementAPI, AsyncAPI, metaclass=_DBOSMeta):
    """The DBOS singleton. `DBOS(config=...)` then `DBOS.launch()`."""

    _instance: DBOS | None = None
    _lock = threading.RLock()

    settings: Settings
    lifecycle: Lifecycle

    def __new__(cls, *, config: DBOSConfig, **_: Any) -> DBOS:
        with cls._lock:
            if cls._instance is not None:
                return cls._instance
            settings = build_settings(config)
            self = super().__new__(cls)
            self.settings = settings
            self.lifecycle = Lifecycle(settings, GLOBAL_REGISTRY)
            cls._instance = self
            return self

    def __init__(self, *, config: DBOSConfig, **_: Any) -> None:
        pass

    # Lifecycle -------------------------------------------------------------------------
    @classmethod
    def _get(cls) -> DBOS:
        if cls._instance is None:
            raise DBOSNotLaunchedError("DBOS is not initialized: call DBOS(config=...) first")
        return cls._instance

    @classmethod
    def _settings(cls) -> Settings:
        return cls._get().lifecycle.settings  # launch() fills in the computed application_version

    @classmethod
    def _rt(cls) -> Runtime:
        rt = process_runtime()
        if rt is not None:
            return rt
        return cls._get().lifecycle.runtime()

    @classmethod
    def launch(cls) -> None:
        cls._get().lifecycle.launch()

    @classmethod
    def destroy(cls, *, destroy_registry: bool = False, workflow_completion_timeout_sec: float = 0) -> None:
        """Destroy the DBOS singleton, terminating all active workflows and closing database
        connections. After this completes, the singleton can be re-initialized."""
        with cls._lock:
            instance, cls._instance = cls._instance, None
        if instance is not None:
            instance.lifecycle.destroy(workflow_completion_timeout_sec)
        if destroy_registry:
            GLOBAL_REGISTRY.clear()

    @classmethod
    def reset_system_database(cls) -> None:
        """Reset DBOS's internal state in Postgres (drops the system database). This is a
        destructive operation; call it before launch()."""
        cls._get().lifecycle.reset_system_database()

    # Decorators ------------------------------------------------------------------------
    @classmethod
    def workflow(cls, *, name: str | None = None, max_recovery_attempts: int | None = 100) -> Callable[[F], F]:
        if max_recovery_attempts is not None and (not isinstance(max_recovery_attempts, int)
                                                  or max_recovery_attempts < 0):
            raise DBOSConfigError(f"max_recovery_attempts must be an integer >= 0, got {max_recovery_attempts!r}")

        return workflow_decorator(cls._rt, name, max_recovery_attempts)

    @classmethod
    def scheduled(cls, cron: str) -> Callable[[F], F]:
        """Run a workflow `(scheduled_time, actual_time)` on a cron schedule (UTC; 5 fields, or
        6 with seconds first). Apply it on top of @DBOS.workflow(). The leader fires each tick
        exactly once across all hosts."""
        expr, _ = parse_cron(cron)

        def decorator(func: F) -> F:
            info = info_of(func)
            GLOBAL_REGISTRY.add_schedule(info.name, expr)
            return func

        return decorator

    @classmethod
    def step(cls, *, name: str | None = None, retries_allowed: bool = False,
             interval_seconds: float = 1.0, max_attempts: int = 3, backoff_rate: float = 2.0,
             should_retry: Callable[[BaseException], bool] | None = None, preemptible: bool = False,
             timeout_seconds: float | None = None) -> Callable[[F], F]:
        """A step: checkpointed in its workflow, retried if retries_allowed (while should_retry
        says so). preemptible and timeout_seconds are for async steps (an error here, as DBOS
        for a sync step)."""
        return step_decorator(cls._rt, {
            "name": name, "retries_allowed": retries_allowed, "interval_seconds": interval_seconds,
            "max_attempts": max_attempts, "backoff_rate": backoff_rate, "should_retry": should_retry,
            "preemptible": preemptible, "timeout_seconds": timeout_seconds})

    @classmethod
    def transaction(cls, isolation_level: str = "SERIALIZABLE", *, name: str | None = None) -> Callable[[F], F]:
        """2.x: run the function in one transaction on the application database
        (`application_database_url`), exactly once per workflow position; DBOS.sql_session is
        its session. (3.x: SQLAlchemyDatasource.create(url).transaction().)"""
        from .datasource.default import default_datasource

        decorator: Callable[[F], F] = default_datasource().transaction(
            name=name, isolation_level=isolation_level)  # type: ignore[call-overload]
        return decorator

    @classmethod
    def run_step(cls, options: dict[str, Any] | None, func: Callable[..., Any], *args: Any,
                 **kwargs: Any) -> Any:
        opts = step_options(options, func)
        if current_workflow() is None:
            return func(*args, **kwargs)
        return steps.run_step(cls._rt(), opts, func, args, kwargs)

    # Starting workflows --------------------------------------------------------------------
    @classmethod
    def start_workflow(cls, func: Callable[..., Any], *args: Any, **kwargs: Any) -> WorkflowHandle[Any]:
        rt, info, args = cls._rt(), info_of(func), call_args(func, args)
        handle, ctx = wf.start(rt, info, args, kwargs, wf.Placement("pool"))
        if ctx is not None:
            rt.executor_threads.submit(wf.run_detached, rt, ctx, info, args, kwargs)
        return handle

    @classmethod
    def enqueue_workflow(cls, queue_name: str, func: Callable[..., Any], *args: Any,
                         **kwargs: Any) -> WorkflowHandle[Any]:
        return wf.enqueue(cls._rt(), queue_name, info_of(func), call_args(func, args), kwargs)

    @classmethod
    def register_queue(cls, name: str, *, worker_concurrency: int | None = None,
                       global_concurrency: int | None = None, partition_concurrency: int | None = None,
                       partition_worker_concurrency: int | None = None,
                       partition_limiter: QueueRateLimit | None = None,
                       limiter: QueueRateLimit | None = None, polling_interval_sec: float = 1.0,
                       on_conflict: queue_registry.OnConflict = "update_if_latest_version",
                       concurrency: int | None = None) -> Queue:
        """Register a queue in the system database: every process of this application serves
        it, and its set_* methods change its limits for all of them."""
        settings = dataclasses.replace(queue_limits.build(
            name, concurrency=concurrency, global_concurrency=global_concurrency,
            worker_concurrency=worker_concurrency, limiter=limiter,
            partition_concurrency=partition_concurrency,
            partition_worker_concurrency=partition_worker_concurrency,
            partition_limiter=partition_limiter, polling_interval_sec=polling_interval_sec),
            database_backed=True)
        queue = Queue.of(settings)
        queue.on_conflict = on_conflict
        rt = process_runtime()
        if rt is None:  # before launch: written by launch()
            GLOBAL_REGISTRY.add_queue(queue)
            return queue
        GLOBAL_REGISTRY.add_queue(queue)
        return queue_registry.register(rt, queue, on_conflict)

    @classmethod
    def retrieve_queue(cls, name: str) -> Queue | None:
        return queue_registry.retrieve(cls._rt(), name)

    @classmethod
    def delete_queue(cls, name: str) -> None:
        """Delete a queue's row: no process serves it any more (its ENQUEUED rows wait)."""
        queue_registry.delete(cls._rt(), name)

    @classmethod
    def list_queues(cls, *, application_name: str | list[str] | None = None) -> list[Queue]:
        return queue_registry.list_all(cls._rt(), application_name)

    @classmethod
    def listen_queues(cls, queues: Sequence[str]) -> None:
        """Serve only these queues in this process's worker pool (call before launch)."""
        cls._get().lifecycle.listen_queues(list(queues))

    @classmethod
    def retrieve_workflow(cls, workflow_id: str, existing_workflow: bool = True) -> WorkflowHandle[Any]:
        rt = cls._rt()
        if existing_workflow and rt.db.workflows.outcome(workflow_id) is None:
            raise DBOSNonExistentWorkflowError(workflow_id)
        return WorkflowHandle(rt, workflow_id)

    @classmethod
    def get_workflow_status(cls, workflow_id: str) -> WorkflowStatus | None:
        try:
            return WorkflowHandle(cls._rt(), workflow_id).get_status()
        except DBOSNonExistentWorkflowError:
            return None

    @classmethod
    def get_result(cls, workflow_id: str) -> Any:
        return cls.retrieve_workflow(workflow_id).get_result()

    # Communication -------------------------------------------------------------------------
    @classmethod
    def send(cls, destination_id: str, message: Any, topic: str | None = None, *,
             idempotency_key: str | None = None) -> None:
        messages.send(cls._rt(), destination_id, message, topic, idempotency_key)

    @classmethod
    def recv(cls, topic: str | None = None, timeout_seconds: float = 60) -> Any:
        return messages.recv(cls._rt(), topic, timeout_seconds)

    @classmethod
    def set_event(cls, key: str, value: Any) -> None:
        messages.set_event(cls._rt(), key, value)

    @classmethod
    def get_event(cls, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any:
        return messages.get_event(cls._rt(), workflow_id, key, timeout_seconds)

    @classmethod
    def sleep(cls, seconds: float) -> None:
        steps.durable_sleep(cls._rt(), seconds)

    # Management ------------------------------------------------------------------------------
    @classmethod
    def _mgmt(cls) -> Management:
        return Management(cls._rt())

    @classmethod
    def cancel_workflow(cls, workflow_id: str) -> None:
        cls._mgmt().cancel(workflow_id)

    @classmethod
    def resume_workflow(cls, workflow_id: str) -> WorkflowHandle[Any]:
        return cls._mgmt().resume(workflow_id)

    @classmethod
    def current_leader(cls) -> dict[str, Any] | None:
        """The executor that leads (runs cron and maintenance): instance_id, executor_id, elected_at."""
        return cls._mgmt().leader()

    @classmethod
    def list_workflow_steps(cls, workflow_id: str, *, load_output: bool = True, limit: int | None = None,
                            offset: int | None = None) -> list[dict[str, Any]]:
        """DBOS's StepInfo dicts, by function id (in a workflow: checkpointed as a step)."""
        return steps.operation(cls._rt(), "DBOS.listWorkflowSteps",  # type: ignore[no-any-return]
                               lambda ctx, fid: cls._mgmt().steps(workflow_id, load_output=load_output,
                                                                  limit=limit, offset=offset))


guard_sync_apis(DBOS)  # a sync API on a running loop's thread raises (DBOS's words)

"""Queues: declared at import time (DBOS 2.x `Queue(...)`) or with DBOS.register_queue (3.x:
database-backed; every process of the application serves it, and `set_*` changes its limits
for all of them). Getters of a database-backed queue re-read its row, as DBOS's do."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypedDict

from . import queue_limits
from .aio.queues import AsyncQueueAPI
from .db.records import QueueSettings
from .errors import DBOSQueueConfigError, DBOSWorkersError
from .registry import GLOBAL_REGISTRY, INTERNAL_QUEUE, info_of

if TYPE_CHECKING:
    from .handle import WorkflowHandle
    from .runtime import Runtime


class QueueRateLimit(TypedDict):
    limit: int
    period: float


def _limiter(limit: int | None, period: float | None) -> QueueRateLimit | None:
    return None if limit is None or period is None else {"limit": limit, "period": period}


class Queue(AsyncQueueAPI):
    """A named queue of workflows run by the worker pool."""

    def __init__(self, name: str, concurrency: int | None = None,
                 limiter: QueueRateLimit | None = None, *, worker_concurrency: int | None = None,
                 global_concurrency: int | None = None, partition_concurrency: int | None = None,
                 partition_worker_concurrency: int | None = None,
                 partition_limiter: QueueRateLimit | None = None, priority_enabled: bool = False,
                 partition_queue: bool = False, polling_interval_sec: float = 1.0,
                 _internal: bool = False) -> None:
        if partition_queue:  # DBOS 2.x: each partition acts as a queue with these limits
            if partition_concurrency is not None or partition_worker_concurrency is not None \
                    or partition_limiter is not None:
                raise DBOSQueueConfigError(
                    "partition_queue=True takes concurrency/worker_concurrency/limiter as per-partition limits")
            partition_concurrency, concurrency = concurrency, None
            partition_worker_concurrency, worker_concurrency = worker_concurrency, None
            partition_limiter, limiter = limiter, None
        settings = queue_limits.build(
            name, concurrency=concurrency, global_concurrency=global_concurrency,
            worker_concurrency=worker_concurrency, limiter=limiter,
            partition_concurrency=partition_concurrency,
            partition_worker_concurrency=partition_worker_concurrency,
            partition_limiter=partition_limiter, polling_interval_sec=polling_interval_sec,
            priority_enabled=priority_enabled, internal=_internal)
        self._init(settings)
        GLOBAL_REGISTRY.add_queue(self)

    def _init(self, settings: QueueSettings) -> None:
        self.name = settings.name
        self._settings = settings
        self.database_backed = settings.database_backed
        self.on_conflict = "always_update"  # how launch() writes a queue declared before it

    @classmethod
    def of(cls, settings: QueueSettings) -> Queue:
        """A Queue for a row (retrieve_queue, list_queues, a worker's catalog): not registered."""
        queue = cls.__new__(cls)
        queue._init(settings)
        return queue

    # Settings --------------------------------------------------------------------------------
    def settings(self) -> QueueSettings:
        return self._settings

    @property
    def partitioned(self) -> bool:
        return queue_limits.partitioned(self._settings)

    def _rt(self) -> Runtime | None:
        from .runtime import process_runtime

        return process_runtime()

    def _fresh(self) -> QueueSettings:
        """The row as it stands now (database-backed queues), else the declared settings."""
        rt = self._rt()
        if self.database_backed and rt is not None:
            latest = rt.db.queues.get(self.name)
            if latest is None:
                raise DBOSWorkersError(f"Queue {self.name} not found in the database")
            self._settings = latest
        return self._settings

    def _set(self, **changes: Any) -> None:
        if not self.database_backed:
            raise DBOSWorkersError(f"Cannot configure queue {self.name}: dynamic configuration is "
                                   "only supported for queues registered via DBOS.register_queue.")
        rt = self._rt()
        if rt is None:
            raise DBOSWorkersError(f"Cannot configure queue {self.name}: DBOS is not launched")
        updated = dataclasses.replace(self._fresh(), **changes)
        queue_limits.check_bounds(updated)
        rt.db.queues.update(updated)
        self._settings = updated

    @property
    def concurrency(self) -> int | None:
        return self._fresh().concurrency

    global_concurrency = concurrency

    @property
    def worker_concurrency(self) -> int | None:
        return self._fresh().worker_concurrency

    @property
    def limiter(self) -> QueueRateLimit | None:
        s = self._fresh()
        return _limiter(s.rate_limit_max, s.rate_limit_period_sec)

    @property
    def partition_concurrency(self) -> int | None:
        return self._fresh().partition_concurrency

    @property
    def partition_worker_concurrency(self) -> int | None:
        return self._fresh().partition_worker_concurrency

    @property
    def partition_limiter(self) -> QueueRateLimit | None:
        s = self._fresh()
        return _limiter(s.partition_rate_limit_max, s.partition_rate_limit_period_sec)

    @property
    def polling_interval_sec(self) -> float:
        return self._fresh().polling_interval_sec

    @property
    def priority_enabled(self) -> bool:
        return self._settings.priority_enabled

    def set_global_concurrency(self, value: int | None) -> None:
        self._set(concurrency=queue_limits.count(self.name, "global_concurrency", value, 1))

    set_concurrency = set_global_concurrency

    def set_worker_concurrency(self, value: int | None) -> None:
        self._set(worker_concurrency=queue_limits.count(self.name, "worker_concurrency", value, 0))

    def set_limiter(self, value: QueueRateLimit | None) -> None:
        limit, period = queue_limits.rate(self.name, "limiter", value)
        self._set(rate_limit_max=limit, rate_limit_period_sec=period)

    def set_partition_concurrency(self, value: int | None) -> None:
        self._set(partition_concurrency=queue_limits.count(self.name, "partition_concurrency", value, 1))

    def set_partition_worker_concurrency(self, value: int | None) -> None:
        self._set(partition_worker_concurrency=queue_limits.count(
            self.name, "partition_worker_concurrency", value, 1))

    def set_partition_limiter(self, value: QueueRateLimit | None) -> None:
        limit, period = queue_limits.rate(self.name, "partition_limiter", value)
        self._set(partition_rate_limit_max=limit, partition_rate_limit_period_sec=period)

    def set_polling_interval_sec(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise DBOSQueueConfigError("polling_interval_sec must be positive")
        self._set(polling_interval_sec=float(value))

    # Enqueue ---------------------------------------------------------------------------------
    def enqueue(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> WorkflowHandle[Any]:
        from .decorators import call_args
        from .runtime import current_runtime
        from .workflow import enqueue

        return enqueue(current_runtime(), self.name, info_of(func), call_args(func, args), kwargs)

    async def enqueue_async(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """enqueue, awaited (returns a WorkflowHandleAsync)."""
        from .aio.starting import enqueue
        from .decorators import call_args
        from .runtime import current_runtime

        return await enqueue(current_runtime(), self.name, info_of(func), call_args(func, args), kwargs)

    def enqueue_many(self, func: Callable[..., Any], items: Iterable[Any]) -> list[WorkflowHandle[Any]]:
        """Enqueue many runs of func in one transaction (all or none): each item is an argument
        tuple or an EnqueueItem with its own options. Much faster than enqueue in a loop."""
        from .bulk import enqueue_many
        from .runtime import current_runtime

        return enqueue_many(current_runtime(), self.name, info_of(func), items)

    def __repr__(self) -> str:
        return f"Queue({self.name!r}, {self._settings})"


def internal_queue() -> Queue:
    existing = GLOBAL_REGISTRY.queues.get(INTERNAL_QUEUE)
    return existing or Queue(INTERNAL_QUEUE, _internal=True)

"""Queues: declared at import time (DBOS 2.x `Queue(...)`) or with DBOS.register_queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from .db.records import QueueSettings
from .errors import DBOSConfigError
from .registry import GLOBAL_REGISTRY, INTERNAL_QUEUE, info_of

if TYPE_CHECKING:
    from .handle import WorkflowHandle


class QueueRateLimit(TypedDict):
    limit: int
    period: float


@dataclass(frozen=True)
class QueueLimits:
    concurrency: int | None
    worker_concurrency: int | None
    rate_limit: int | None
    rate_period_sec: float | None

    @property
    def shared_budget(self) -> bool:
        return self.concurrency is not None or self.rate_limit is not None


def _positive(name: str, key: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DBOSConfigError(f"queue {name!r}: {key} must be a positive integer, got {value!r}")
    return value


class Queue:
    """A named queue of workflows run by the worker pool."""

    def __init__(self, name: str, concurrency: int | None = None,
                 limiter: QueueRateLimit | None = None, *, worker_concurrency: int | None = None,
                 priority_enabled: bool = False, partition_queue: bool = False,
                 polling_interval_sec: float = 1.0, _internal: bool = False) -> None:
        if not isinstance(name, str) or not name or "\x00" in name or len(name) > 255:
            raise DBOSConfigError(f"queue name must be a non-empty string (<= 255 chars), got {name!r}")
        if name.startswith("_dbos_") and not _internal:
            raise DBOSConfigError(f"queue names starting with '_dbos_' are reserved: {name!r}")
        if partition_queue:
            raise DBOSConfigError(f"queue {name!r}: partitioned queues are not supported yet")
        rate_limit = rate_period = None
        if limiter is not None:
            if not isinstance(limiter, dict) or set(limiter) != {"limit", "period"}:
                raise DBOSConfigError(f"queue {name!r}: limiter must be {{'limit': int, 'period': seconds}}")
            rate_limit = _positive(name, "limiter['limit']", limiter["limit"])
            period = limiter["period"]
            if isinstance(period, bool) or not isinstance(period, int | float) or period <= 0:
                raise DBOSConfigError(f"queue {name!r}: limiter['period'] must be > 0 seconds")
            rate_period = float(period)
        if not isinstance(polling_interval_sec, int | float) or polling_interval_sec <= 0:
            raise DBOSConfigError(f"queue {name!r}: polling_interval_sec must be > 0")
        self.name = name
        self.limits = QueueLimits(_positive(name, "concurrency", concurrency),
                                  _positive(name, "worker_concurrency", worker_concurrency),
                                  rate_limit, rate_period)
        self.priority_enabled = priority_enabled
        self.polling_interval_sec = float(polling_interval_sec)
        GLOBAL_REGISTRY.add_queue(self)

    @property
    def concurrency(self) -> int | None:
        return self.limits.concurrency

    global_concurrency = concurrency

    @property
    def worker_concurrency(self) -> int | None:
        return self.limits.worker_concurrency

    @property
    def limiter(self) -> QueueRateLimit | None:
        if self.limits.rate_limit is None or self.limits.rate_period_sec is None:
            return None
        return {"limit": self.limits.rate_limit, "period": self.limits.rate_period_sec}

    def enqueue(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> WorkflowHandle[Any]:
        from .runtime import current_runtime
        from .workflow import enqueue

        return enqueue(current_runtime(), self.name, info_of(func), args, kwargs)

    def settings(self) -> QueueSettings:
        lim = self.limits
        return QueueSettings(self.name, lim.concurrency, lim.worker_concurrency, lim.rate_limit,
                             lim.rate_period_sec, self.priority_enabled, self.polling_interval_sec)

    def __repr__(self) -> str:
        return f"Queue({self.name!r}, limits={self.limits})"


def internal_queue() -> Queue:
    existing = GLOBAL_REGISTRY.queues.get(INTERNAL_QUEUE)
    return existing or Queue(INTERNAL_QUEUE, _internal=True)

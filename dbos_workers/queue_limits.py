"""A queue's limits: validation with DBOS's rules and words, and what kind of claim each
needs. Limits are a QueueSettings (the queues row); the claimer reads them from there."""

from __future__ import annotations

from typing import Any

from .db.records import QueueSettings
from .errors import DBOSQueueConfigError

RESERVED_PREFIX = "_dbos_"


def partitioned(q: QueueSettings) -> bool:
    """Any partition_* limit makes a queue partitioned: its enqueues carry a partition key."""
    return (q.partition_concurrency is not None or q.partition_worker_concurrency is not None
            or q.partition_rate_limit_max is not None)


def shared_budget(q: QueueSettings) -> bool:
    """Limits counted in the database across processes: claims serialize on the queue's lock."""
    return q.concurrency is not None or q.rate_limit_max is not None or partitioned(q)


def unlimited(q: QueueSettings) -> bool:
    """Claimed by the shared batch statement (no limit of any kind)."""
    return not shared_budget(q) and q.worker_concurrency is None


def count(name: str, key: str, value: Any, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DBOSQueueConfigError(f"queue {name!r}: {key} must be an integer >= {minimum}, got {value!r}")
    return value


def rate(name: str, key: str, limiter: Any) -> tuple[int | None, float | None]:
    if limiter is None:
        return None, None
    if not isinstance(limiter, dict) or limiter.get("limit") is None or limiter.get("period") is None:
        raise DBOSQueueConfigError(f"{key} must specify both 'limit' and 'period'")
    period = limiter["period"]
    if isinstance(period, bool) or not isinstance(period, int | float) or period <= 0:
        raise DBOSQueueConfigError(f"queue {name!r}: {key}['period'] must be > 0 seconds")
    return count(name, f"{key}['limit']", limiter["limit"], 1), float(period)


def build(name: Any, *, concurrency: Any = None, global_concurrency: Any = None,
          worker_concurrency: Any = None, limiter: Any = None, partition_concurrency: Any = None,
          partition_worker_concurrency: Any = None, partition_limiter: Any = None,
          polling_interval_sec: Any = 1.0, priority_enabled: bool = False,
          internal: bool = False, database_backed: bool = False) -> QueueSettings:
    """QueueSettings from DBOS's register_queue arguments, validated as DBOS validates them."""
    if not isinstance(name, str) or not name or "\x00" in name or len(name) > 255:
        raise DBOSQueueConfigError(f"queue name must be a non-empty string (<= 255 chars), got {name!r}")
    if name.startswith(RESERVED_PREFIX) and not internal:
        raise DBOSQueueConfigError(f"Queue name {name} is reserved: names starting with "
                                   f"'{RESERVED_PREFIX}' belong to DBOS's internal queues.")
    if concurrency is not None and global_concurrency is not None:
        raise DBOSQueueConfigError("concurrency is deprecated in favor of global_concurrency; set only one of them")
    if isinstance(polling_interval_sec, bool) or not isinstance(polling_interval_sec, int | float) \
            or polling_interval_sec <= 0:
        raise DBOSQueueConfigError("polling_interval_sec must be positive")
    rate_max, rate_period = rate(name, "limiter", limiter)
    part_max, part_period = rate(name, "partition_limiter", partition_limiter)
    q = QueueSettings(
        name, count(name, "global_concurrency", global_concurrency if concurrency is None else concurrency, 1),
        count(name, "worker_concurrency", worker_concurrency, 0), rate_max, rate_period,
        bool(priority_enabled), float(polling_interval_sec),
        count(name, "partition_concurrency", partition_concurrency, 1),
        count(name, "partition_worker_concurrency", partition_worker_concurrency, 1),
        part_max, part_period, None, database_backed)
    check_bounds(q)
    return q


def check_bounds(q: QueueSettings) -> None:
    """The cross-field rules: no limit may exceed the one that contains it."""
    rules = [
        (q.partition_worker_concurrency, q.partition_concurrency,
         "partition_concurrency must be greater than or equal to partition_worker_concurrency"),
        (q.partition_worker_concurrency, q.worker_concurrency,
         "worker_concurrency must be greater than or equal to partition_worker_concurrency"),
        (q.worker_concurrency, q.concurrency, "concurrency must be greater than or equal to worker_concurrency"),
        (q.partition_concurrency, q.concurrency,
         "global_concurrency must be greater than or equal to partition_concurrency"),
        (q.partition_worker_concurrency, q.concurrency,
         "concurrency must be greater than or equal to partition_worker_concurrency"),
    ]
    for inner, outer, message in rules:
        if inner is not None and outer is not None and inner > outer:
            raise DBOSQueueConfigError(message)

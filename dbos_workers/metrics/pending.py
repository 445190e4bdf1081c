"""Write-behind for the hooks on the per-workflow path: increments gather in a dict in this
process and reach the multiprocess files in one pass at the end of each batch the process
writes anyway (a group-commit flush, a claim round, going idle, draining).

A prometheus_client value write takes a lock, asks the kernel for the pid and packs into the
mmap; a 0-step workflow made six of them (claim latency and run time histograms: bucket and
sum each; started and finished counters), about 10 % of a worker's instructions per workflow
(callgrind). Gathered, it is one dict update per increment here and one write per distinct
series per batch. Every workflow's outcome passes through a group-commit flush that ends with
`flush()`, so a scrape never sees a workflow finished without its start; what an idle
process counted is written.

Uses the children's value objects (`_value`; `_sum`, `_buckets`, `_upper_bounds`); a
prometheus_client without them gets the public inc()/observe() instead.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from typing import Any

_lock = threading.Lock()
_adds: dict[Any, float] = {}


class Series:
    """One labelled child and the value objects its increments go to, looked up once."""

    __slots__ = ("bounds", "buckets", "child", "sum", "value")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.value = getattr(child, "_value", None)  # a counter's (or gauge's)
        bounds, buckets, total = (getattr(child, a, None) for a in ("_upper_bounds", "_buckets", "_sum"))
        histogram = bounds is not None and buckets is not None and total is not None
        self.bounds, self.buckets, self.sum = (bounds, buckets, total) if histogram else (None, None, None)


def count(series: Series, amount: float = 1.0) -> None:
    value = series.value
    if value is None:
        series.child.inc(amount)
        return
    with _lock:
        _adds[value] = _adds.get(value, 0.0) + amount


def observe(series: Series, amount: float) -> None:
    bounds = series.bounds
    if bounds is None:
        series.child.observe(amount)
        return
    bucket, total = series.buckets[bisect_left(bounds, amount)], series.sum  # type: ignore[index]
    with _lock:
        _adds[bucket] = _adds.get(bucket, 0.0) + 1.0
        _adds[total] = _adds.get(total, 0.0) + amount


def flush() -> None:
    """Write what gathered (cheap when nothing did)."""
    if not _adds:
        return
    with _lock:
        items = list(_adds.items())
        _adds.clear()
    for value, amount in items:
        value.inc(amount)


def discard() -> None:
    """Forget what gathered (a forked child must not write its parent's increments)."""
    global _lock
    _lock = threading.Lock()
    _adds.clear()


os.register_at_fork(after_in_child=discard)

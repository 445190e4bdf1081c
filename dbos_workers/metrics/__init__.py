"""Prometheus metrics: the hooks the library calls (one line at each site) and the switch.

Off (the default, config `enable_metrics`), every hook is a call that reads one module global
and returns: no prometheus_client import, no lock, no clock. On, `run.begin` (in launch, before
the fork) builds the instruments once; worker processes inherit them and write their own
files in the run's multiprocess directory; `run.MetricsRun` serves the aggregate.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .pending import Series, count, flush, observe

if TYPE_CHECKING:
    from .instruments import Instruments

_m: Instruments | None = None


def active() -> Instruments | None:
    return _m


def install(instruments: Instruments | None) -> None:
    global _m
    flush()
    _m = instruments
    _children.clear()


_children: dict[tuple[int, tuple[str, ...]], Series] = {}


def _child(metric: Any, *labels: str) -> Series:
    """metric.labels(*labels), remembered: labels() takes a lock and builds a key per call, on
    a path taken several times per workflow. The set of label values is bounded (names,
    queues, outcomes), and so is this cache; it is dropped with the instruments."""
    key = (id(metric), labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = Series(metric.labels(*labels) if labels else metric)
    return child


def enqueued(queue: str | None, name: str, inserted: Any) -> None:
    """An enqueue statement returned; counted when it inserted the row (not a duplicate)."""
    m = _m
    if m is not None and inserted is not None and getattr(inserted, "inserted", False):
        count(_child(m.enqueued, queue or "", name))
        flush()  # after its batch: nothing else would write it


def enqueued_many(queue: str, name: str, n: int) -> None:
    m = _m
    if m is not None and n:
        count(_child(m.enqueued, queue, name), n)
        flush()


def workflow_started(queue: str | None, name: str) -> float:
    """An execution starts; returns the start time for workflow_ran (0.0 when off)."""
    m = _m
    if m is None:
        return 0.0
    count(_child(m.started, queue or "", name))
    return time.perf_counter()


def workflow_ran(name: str, started: float) -> None:
    m = _m
    if m is not None and started:
        observe(_child(m.workflow_duration, name), time.perf_counter() - started)


def workflow_finished(queue: str | None, name: str, outcome: str, *, now: bool = False) -> None:
    """The outcome is durable. From a group-commit callback the batch's end writes it; a
    caller outside one passes now=True."""
    m = _m
    if m is not None:
        count(_child(m.finished, queue or "", name, outcome))
        if now:
            flush()


def workflow_claimed(queue: str | None, created_at_ms: int | None, now_ms: int | None) -> None:
    m = _m
    if m is not None and created_at_ms is not None and now_ms is not None:
        observe(_child(m.enqueue_latency, queue or ""), max(0, now_ms - created_at_ms) / 1000.0)


def claimed(rows: int, held: int) -> None:
    m = _m
    if m is not None and rows:
        count(_child(m.claims))
        observe(_child(m.claim_batch), rows)
        m.in_flight.set(held)
        flush()


def in_flight(held: int) -> None:
    """A slot was freed: the gauge follows claims (claimed() sets it with each batch), so a
    free only writes it when the process goes idle, not once per finished workflow."""
    m = _m
    if m is not None and held == 0:
        m.in_flight.set(0)
        flush()


def step_ran(name: str, started: float) -> None:
    m = _m
    if m is not None:
        observe(_child(m.step_duration, name), time.perf_counter() - started)


def step_retried(name: str) -> None:
    m = _m
    if m is not None:
        m.retries.labels(name).inc()


def group_commit(kind: str, batch: int, started: float) -> None:
    m = _m
    if m is not None:
        observe(_child(m.gc_batch, kind), batch)
        observe(_child(m.gc_flush, kind), time.perf_counter() - started)


def batch_done() -> None:
    """A batch this process wrote (a group-commit flush and its callbacks) ended: write
    what the hooks gathered (metrics/pending.py)."""
    if _m is not None:
        flush()


def recovered(kind: str, n: int) -> None:
    m = _m
    if m is not None and n:
        m.recoveries.labels(kind).inc(n)


def handed_back(reason: str, n: int) -> None:
    m = _m
    if m is not None and n:
        m.hand_backs.labels(reason).inc(n)


def dead_lettered() -> None:
    m = _m
    if m is not None:
        m.dead_lettered.inc()


def leadership(leading: bool, term: int) -> None:
    m = _m
    if m is not None:
        m.is_leader.set(1 if leading else 0)
        if leading:
            m.leader_term.set(term)


def db_error(exc: BaseException) -> None:
    m = _m
    if m is not None:
        m.db_errors.labels(type(exc).__name__).inc()


def db_reconnect(kind: str) -> None:
    m = _m
    if m is not None:
        m.db_reconnects.labels(kind).inc()

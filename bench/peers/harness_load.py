"""Producer-side and many-queue scenarios (bench/scenarios/enqueue.py and queues.py drive them).

enqueue: n 0-step workflows (jobs) enqueued with the pool stopped, nothing consuming. Mode
`single`: one enqueue call per item from --producer-threads threads of this process
(harness.produce); mode `bulk`: the adapter's `enqueue_batch(kind, indices)` with --batch items
per call, from one thread. A warm-up of WARM items (indices n..n+WARM-1, the same mode) comes
first and is not timed; the rows in the database are counted afterwards (n + WARM expected).

queues: a burn-down (harness.scenario_burndown) whose adapter spreads the n workflows
round-robin over --queues queues and registers --empty-queues more that nothing is enqueued on;
the adapter reads both from its args.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import harness
from harness import Adapter, Monitor, produce, scenario_burndown

WARM = 32


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=("single", "bulk"), default="single", help="enqueue: one call per item or batches")
    p.add_argument("--batch", type=int, default=1000, help="enqueue --mode bulk: items per call")
    p.add_argument("--queues", type=int, default=1, help="queues: spread the n workflows round-robin over this many")
    p.add_argument("--empty-queues", type=int, default=0, help="queues: registered queues nothing is enqueued on")


def shared_size(a: argparse.Namespace) -> int:
    return a.n + WARM + 64


def _enqueue(ad: Adapter, indices: list[int], a: argparse.Namespace) -> int:
    """Enqueue 0-step items in the run's mode; returns the number of enqueue calls."""
    if a.mode == "single":
        produce(ad, "0", indices, threads=a.producer_threads)
        return len(indices)
    calls = 0
    for k in range(0, len(indices), a.batch):
        ad.enqueue_batch("0", indices[k:k + a.batch])  # type: ignore[attr-defined]
        calls += 1
    return calls


def scenario_enqueue(ad: Adapter, a: argparse.Namespace) -> dict[str, Any]:
    """Time n enqueues (one per call, or in batches) with no consumer running."""
    n, bulk = a.n, a.mode == "bulk"
    if bulk and not hasattr(ad, "enqueue_batch"):
        raise SystemExit(f"{ad.name}: no bulk enqueue")
    ad.reset()
    ad.open_producer()
    _enqueue(ad, list(range(n, n + WARM)), a)
    t0 = time.perf_counter()
    calls = _enqueue(ad, list(range(n)), a)
    elapsed = time.perf_counter() - t0
    ad.close_producer()
    mon = Monitor(ad.url, ad.remaining_sql)
    counted = mon.remaining()
    mon.close()
    return {"mode": a.mode, "n": n, "threads": 1 if bulk else a.producer_threads,
            "batch": a.batch if bulk else 1, "calls": calls, "elapsed_s": elapsed, "rate": n / elapsed,
            "warm": WARM, "counted": counted, "complete": counted == n + WARM}


def scenario_queues(ad: Adapter, a: argparse.Namespace) -> dict[str, Any]:
    """A 0-step burn-down over a.queues busy queues beside a.empty_queues idle ones.

    A pool launched in this process (dbos-workers) starts working before its launch returns,
    and a launch registers every queue (1,000 of them take seconds): the drain can end before
    the poller looks. Where the adapter has `last_finished_sql` (the epoch of the last
    completion, from the system's own rows), the drain ends there; `rate_polled` is
    burn-down's own figure. `launch_returned_s` is when the pool's start returned."""
    start, returned = ad.start_workers, [0.0]

    def timed(procs: int) -> None:
        start(procs)
        returned[0] = time.time()

    ad.start_workers = timed  # type: ignore[method-assign]
    res = scenario_burndown(ad, a)
    starts = [s for s in harness.SHARED["start"][:a.n] if s > 0]
    t0 = min(starts) if starts else returned[0]
    out = {**res, "queues": a.queues, "empty_queues": a.empty_queues, "rate_polled": res["rate"],
           "launch_returned_s": returned[0] - t0}
    sql = getattr(ad, "last_finished_sql", None)
    if sql and res["drained"]:
        mon = Monitor(ad.url, ad.remaining_sql)
        last = float(mon.conn.execute(sql).fetchone()[0])
        mon.close()
        out.update(last_finished_s=last - t0, drain_s=last - t0, rate=res["done"] / max(1e-9, last - t0))
    return out

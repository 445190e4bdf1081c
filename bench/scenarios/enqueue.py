"""enqueue: producer throughput with the pool stopped (nothing consumes), 0-step workflows
(jobs), measured by harness_load.scenario_enqueue.

single: --enqueue-n items, one enqueue call each, from --enqueue-threads (16) threads of one
process: dbos-workers `Queue.enqueue(wf0, i)` (concurrent enqueues share a group commit),
dbos `queue.enqueue`, procrastinate `task.defer(i=i)` (sync API), pgqueuer
`SyncQueries.enqueue` (one psycopg connection per thread).
bulk: the same items in calls of --enqueue-batch (1000) from one thread: dbos-workers
`Queue.enqueue_many(wf0, [(i,), ...])`, procrastinate `task.batch_defer(...)`, pgqueuer
`SyncQueries.enqueue` with lists; dbos has no bulk enqueue (n/a).
rate = n / wall time of the timed calls (a 32-item warm-up in the same mode is not timed).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..runner import Context

MODES = ("single", "bulk")
BULK = ("dbos-workers", "procrastinate", "pgqueuer")  # dbos has no bulk enqueue
Row = tuple[str, dict[str, str]]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--enqueue-n", type=int, default=20000, help="enqueue: items per run (default 20000)")
    p.add_argument("--enqueue-threads", type=int, default=16, help="enqueue: producer threads (default 16)")
    p.add_argument("--enqueue-batch", type=int, default=1000, help="enqueue: items per bulk call (default 1000)")


def run(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    out: dict[str, Any] = {}
    for system in ctx.systems:
        out[system] = {}
        for mode in MODES:
            if mode == "bulk" and system not in BULK:
                continue
            res = ctx.run(system, "enqueue", timeout=a.timeout, n=a.enqueue_n, mode=mode,
                          batch=a.enqueue_batch, producer_threads=a.enqueue_threads)
            out[system][mode] = res
            if "rate" in res:
                ctx.log(f"  {system:14s} {mode:6s} {res['rate']:8.0f} /s  ({res['n']} in {res['elapsed_s']:.2f} s, "
                        f"{res['calls']} calls, {res['counted']} rows counted)")
    return out


def rows(results: dict[str, Any], systems: list[str], cell: Any, num: Any) -> list[Row]:
    """The table rows (cell/num: report's formatters)."""
    res = results.get("enqueue")
    if not res:
        return []
    out: list[Row] = []
    for mode in MODES:
        got = {s: (res.get(s) or {}).get(mode) for s in systems}
        if not any(got.values()):
            continue
        sample = next(g for g in got.values() if g)
        label = (f"enqueue, {sample.get('threads')} threads x 1 per call (/s)" if mode == "single"
                 else f"enqueue bulk, {sample.get('batch')} per call (wf/s)")
        base = (got.get("dbos-workers") or {}).get("rate")
        out.append((label, {s: _cell(s, g, base, cell) for s, g in got.items()}))
    return out


def _cell(system: str, got: dict[str, Any] | None, base: float | None, cell: Any) -> str:
    if got is None:
        return "n/a"
    if "rate" not in got:
        return "failed"
    return cell(system, got["rate"], base, True) + ("" if got.get("complete", True) else " (rows missing)")

"""idle latency: sequential samples on an idle pool (20 ms gap, one workflow at a time).

enqueue->start = the workflow's first-line time.time() minus the enqueuer's time.time() just
before enqueue; enqueue->result = when handle.get_result() returned (durable-workflow systems
only; the job queues store no results). Sampling stops at --samples or after
--latency-budget seconds per system, whichever comes first (DBOS's 1 s polling makes each
of its samples slow).
"""

from __future__ import annotations

from typing import Any

from ..runner import Context


def run(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    out: dict[str, Any] = {}
    for system in ctx.systems:
        res = ctx.run(system, "latency", timeout=a.latency_budget + 120, n=a.samples, procs=a.procs,
                      threads=a.threads, budget=a.latency_budget)
        out[system] = res
        if "to_start" in res:
            s = res["to_start"]
            ctx.log(f"  {system:14s} enqueue->start p50 {s['p50_ms']:.1f} ms p99 {s['p99_ms']:.1f} ms "
                    f"({res['samples']} samples)")
    return out

"""steady state: a paced producer (4 threads, each item waits for its slot k/rate) enqueues
0-step workflows for --steady-seconds at 25/50/80% of the system's own 0-step burn-down rate
while the pool runs; reports the achieved enqueue rate and enqueue->start p50/p95/p99.

If burn-down was not run, a quick 0-step burn-down (N = min(--n, 1000)) sets the rate.
"""

from __future__ import annotations

from typing import Any

from ..runner import Context
from . import burndown

FRACTIONS = (0.25, 0.5, 0.8)


def run(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    out: dict[str, Any] = {}
    for system in ctx.systems:
        ref = burndown.reference_rate(ctx, system, "0", 1000)
        if not ref:
            out[system] = {"error": "no burn-down rate"}
            continue
        rates = [round(ref * f, 1) for f in FRACTIONS]
        res = ctx.run(system, "steady", timeout=a.timeout, rates=rates, seconds=a.steady_seconds,
                      procs=a.procs, threads=a.threads, producer_threads=a.producer_threads)
        res["reference_rate"] = ref
        res["fractions"] = list(FRACTIONS)
        out[system] = res
        for f, w in zip(FRACTIONS, res.get("windows", []), strict=False):
            ctx.log(f"  {system:14s} {int(f * 100):2d}% target {w['target_rate']:7.0f}/s achieved "
                    f"{w['achieved_rate'] or 0:7.0f}/s  p50 {w['p50_ms'] or 0:7.1f} ms "
                    f"p99 {w['p99_ms'] or 0:7.1f} ms")
    return out

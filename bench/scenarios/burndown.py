"""burn-down: N workflows pre-enqueued, then the pool starts and drains them.

rate = N / (last completion observed - first workflow start). A system that has not drained
after --drain-budget seconds is stopped there: rate = workflows finished / elapsed, marked *. The first start is the earliest
time.time() written by a workflow's first line; completion is observed by polling the system's
own table every 20 ms for unfinished rows. Enqueue time and pool start-up are excluded.
"""

from __future__ import annotations

from typing import Any

from ..runner import Context

KINDS = ("0", "1", "3")


def run(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    out: dict[str, Any] = {}
    for system in ctx.systems:
        out[system] = {}
        for kind in KINDS:
            if not ctx.supports(system, kind):
                continue
            res = ctx.run(system, "burndown", timeout=a.timeout, n=a.n, kind=kind, procs=a.procs,
                          threads=a.threads, drain_budget=a.drain_budget)
            out[system][kind] = res
            if "rate" in res:
                ctx.log(f"  {system:14s} {kind}-step  {res['rate']:8.0f} wf/s  "
                        f"({res['done']}/{a.n}{'' if res['drained'] else ' (budget ran out)'} "
                        f"in {res['drain_s']:.1f} s, "
                        f"{res['xact_per_wf']:.1f} xact/wf)")
    return out


def rate(ctx: Context, system: str, kind: str = "0") -> float | None:
    res = ctx.results.get("burndown", {}).get(system, {}).get(kind, {})
    return res.get("rate")

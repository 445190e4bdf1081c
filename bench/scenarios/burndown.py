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


def reference_rate(ctx: Context, system: str, kind: str, quick_n: int) -> float | None:
    """This run's burn-down rate of `kind`, else that of a quick burn-down of min(--n, quick_n)
    (the steady and soak scenarios offer fractions of it)."""
    found = rate(ctx, system, kind)
    if found:
        return found
    res = ctx.run(system, "burndown", timeout=ctx.args.timeout, n=min(ctx.args.n, quick_n), kind=kind,
                  procs=ctx.args.procs, threads=ctx.args.threads)
    return res.get("rate")


def run_kind(ctx: Context, kind: str, label: str, note: Any = None) -> dict[str, Any]:
    """One burn-down of `kind` per system that supports it (the transaction and async
    scenarios); `note(res)` adds to the log line."""
    a = ctx.args
    out: dict[str, Any] = {}
    for system in ctx.systems:
        if not ctx.supports(system, kind):
            continue
        res = ctx.run(system, "burndown", timeout=a.timeout, n=a.n, kind=kind, procs=a.procs,
                      threads=a.threads, drain_budget=a.drain_budget)
        out[system] = res
        if "rate" in res:
            ctx.log(f"  {system:14s} {label} {res['rate']:8.0f} wf/s  ({res['done']}/{a.n}"
                    f"{'' if res['drained'] else ' (budget ran out)'} in {res['drain_s']:.1f} s, "
                    f"{note(res) if note else ''}{res['xact_per_wf']:.1f} xact/wf)")
    return out


def rate_cells(res: dict[str, Any], systems: list[str], cell: Any) -> dict[str, str]:
    """Each system's rate against dbos-workers' (partial runs marked *, absent ones n/a)."""
    rates = {s: res.get(s, {}).get("rate") for s in systems}
    cells = {}
    for s in systems:
        got = res.get(s)
        if got is None:
            cells[s] = "n/a"
            continue
        partial = "" if got.get("drained", True) else f"* {got.get('done')}/{got.get('n')}, "
        cells[s] = partial + cell(s, rates[s], rates.get("dbos-workers"), True)
    return cells

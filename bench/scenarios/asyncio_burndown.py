"""async: burn-down of N async workflows (jobs) that each await one 100 ms asyncio.sleep, on
--procs worker processes: dbos-workers' async workflows (each an `async def` workflow
awaiting an `async def` step, run as tasks on each worker's loop thread, up to
worker_async_concurrency = 10,000 per process), procrastinate async tasks (concurrency 5000
per worker: --option procrastinate:concurrency=N) and pgqueuer async entrypoints (defaults).

Measured like burn-down (harness.scenario_burndown with kind `async`): rate = N / (last
completion observed - first start). `peak_per_process` is the most workflows (jobs) running
at once in each worker process, from their start/end stamps: the point of async is how many
can wait at once. dbos is not run (its async workflows run on its app's loop).
"""

from __future__ import annotations

from typing import Any

from ..runner import Context

KIND = "async"
Row = tuple[str, dict[str, str]]


def run(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    out: dict[str, Any] = {}
    for system in ctx.systems:
        if not ctx.supports(system, KIND):
            continue
        res = ctx.run(system, "burndown", timeout=a.timeout, n=a.n, kind=KIND, procs=a.procs,
                      threads=a.threads, drain_budget=a.drain_budget)
        out[system] = res
        if "rate" in res:
            ctx.log(f"  {system:14s} async 1-step {res['rate']:8.0f} wf/s  ({res['done']}/{a.n}"
                    f"{'' if res['drained'] else ' (budget ran out)'} in {res['drain_s']:.1f} s, "
                    f"peak {res.get('peak_per_process')} at once per process, "
                    f"{res['xact_per_wf']:.1f} xact/wf)")
    return out


def rows(results: dict[str, Any], systems: list[str], cell: Any, num: Any) -> list[Row]:
    """The table rows (cell/num: report's formatters)."""
    res = results.get("async")
    if not res:
        return []
    rates = {s: res.get(s, {}).get("rate") for s in systems}
    cells, peaks = {}, {}
    for s in systems:
        got = res.get(s)
        if got is None:
            cells[s] = peaks[s] = "n/a"
            continue
        partial = "" if got.get("drained", True) else f"* {got.get('done')}/{got.get('n')}, "
        cells[s] = partial + cell(s, rates[s], rates.get("dbos-workers"), True)
        peak = got.get("peak_per_process") or []
        peaks[s] = str(max(peak)) if peak else "-"
    return [("burn-down async 1-step, 100 ms sleep (wf/s)", cells),
            ("  most running at once in one process", peaks),
            ("  transactions per workflow", {s: num(res.get(s, {}).get("xact_per_wf"), "{:.2f}")
                                             for s in systems})]

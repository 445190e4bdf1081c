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
from .burndown import rate_cells, run_kind

KIND = "async"
Row = tuple[str, dict[str, str]]


def run(ctx: Context) -> dict[str, Any]:
    return run_kind(ctx, KIND, "async 1-step",
                    lambda res: f"peak {res.get('peak_per_process')} at once per process, ")


def rows(results: dict[str, Any], systems: list[str], cell: Any, num: Any) -> list[Row]:
    """The table rows (cell/num: report's formatters)."""
    res = results.get("async")
    if not res:
        return []
    peaks = {}
    for s in systems:
        peak = (res.get(s) or {}).get("peak_per_process") or []
        peaks[s] = "n/a" if res.get(s) is None else str(max(peak)) if peak else "-"
    return [("burn-down async 1-step, 100 ms sleep (wf/s)", rate_cells(res, systems, cell)),
            ("  most running at once in one process", peaks),
            ("  transactions per workflow", {s: num(res.get(s, {}).get("xact_per_wf"), "{:.2f}")
                                             for s in systems})]

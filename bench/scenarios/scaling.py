"""scaling: burn-down of CPU-bound workflows (one step burning ~5 ms of pure-Python CPU,
calibrated once by the driver to a fixed loop count so every system does the same work) with
1, 2 and 4 worker processes; reports the 1->2 ratio (ideal on this 2-core host: 2.0, with
Postgres and the pool sharing the cores)."""

from __future__ import annotations

from typing import Any

from ..runner import Context

PROCS = (1, 2, 4)


def run(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    out: dict[str, Any] = {}
    for system in ctx.systems:
        out[system] = {}
        for procs in PROCS:
            res = ctx.run(system, "burndown", timeout=a.timeout, n=a.scaling_n, kind="cpu",
                          procs=procs, threads=a.threads, cpu_iters=a.cpu_iters)
            out[system][str(procs)] = res
            if "rate" in res:
                ctx.log(f"  {system:14s} cpu x{procs} procs {res['rate']:7.0f} wf/s")
        r1 = out[system].get("1", {}).get("rate")
        r2 = out[system].get("2", {}).get("rate")
        out[system]["ratio_1_to_2"] = (r2 / r1) if r1 and r2 else None
    return out

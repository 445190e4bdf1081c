"""scaling: burn-down of CPU-bound workflows (one step burning ~5 ms of pure-Python CPU,
calibrated once by the driver to a fixed loop count so every system does the same work) with
1, 2 and 4 worker processes; reports the 1->2 ratio (ideal on this 2-core host: 2.0, with
Postgres and the pool sharing the cores).

This host's CPU speed drifts by +-20 % over seconds, more than the effect measured, so each
system runs `--scaling-rounds` rounds of 1, 2, 4 processes back to back (interleaved, so a
slow minute hits every process count alike); each row is the median of its rounds and the
ratio is median(2) / median(1). Every round's rate is in the JSON."""

from __future__ import annotations

import statistics
from typing import Any

from ..runner import Context

PROCS = (1, 2, 4)


def run(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    out: dict[str, Any] = {}
    for system in ctx.systems:
        rounds: dict[str, list[dict[str, Any]]] = {str(p): [] for p in PROCS}
        for r in range(max(1, a.scaling_rounds)):
            for procs in PROCS:
                res = ctx.run(system, "burndown", timeout=a.timeout, n=a.scaling_n, kind="cpu",
                              procs=procs, threads=a.threads, cpu_iters=a.cpu_iters)
                rounds[str(procs)].append(res)
                if "rate" in res:
                    ctx.log(f"  {system:14s} cpu x{procs} procs {res['rate']:7.0f} wf/s (round {r + 1})")
        out[system] = {}
        for procs, results in rounds.items():
            rates = [res["rate"] for res in results if "rate" in res]
            out[system][procs] = {"rate": statistics.median(rates) if rates else None,
                                  "rounds": [round(x, 1) for x in rates], "runs": results}
        r1, r2 = out[system]["1"]["rate"], out[system]["2"]["rate"]
        out[system]["ratio_1_to_2"] = (r2 / r1) if r1 and r2 else None
    return out

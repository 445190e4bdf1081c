"""queues: many queues. A 0-step burn-down of --n workflows (harness_load.scenario_queues, i.e.
harness.scenario_burndown) on ONE queue (`one`), the same n spread round-robin over
--queues-many (1,000) queues (`many`), and the n on one queue beside --queues-empty (100)
registered queues that stay empty (`empty`). Every queue is declared before launch in the
producer and in the pool, with the same names.

This host's speed drifts +-15 % run by run, so each system runs --queues-rounds (3)
interleaved rounds of one, many, empty; a row is the median of its rounds, and the ratios
many/one and empty/one are ratios of those medians (each round's own ratios are in the JSON).
Peers: procrastinate (every worker runs with `queues=` all the names) and pgqueuer (one
entrypoint per queue, all registered in every consumer); dbos is not run.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from ..runner import Context
from .burndown import rate_cells

SYSTEMS = ("dbos-workers", "procrastinate", "pgqueuer")
Row = tuple[str, dict[str, str]]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--queues-many", type=int, default=1000, help="queues: queues the n are spread over (default 1000)")
    p.add_argument("--queues-empty", type=int, default=100,
                   help="queues: empty queues beside the busy one (default 100)")
    p.add_argument("--queues-rounds", type=int, default=3,
                   help="queues: interleaved rounds of one/many/empty; rows are medians (default 3)")


def configs(a: argparse.Namespace) -> dict[str, tuple[int, int]]:
    """name -> (queues the n go to, empty queues beside them)."""
    return {"one": (1, 0), "many": (a.queues_many, 0), "empty": (1, a.queues_empty)}


def run(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    out: dict[str, Any] = {}
    for system in ctx.systems:
        if system not in SYSTEMS:
            continue
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs(a)}
        for r in range(max(1, a.queues_rounds)):
            for name, (queues, empty) in configs(a).items():
                res = ctx.run(system, "queues", timeout=a.timeout, n=a.n, kind="0", procs=a.procs,
                              threads=a.threads, drain_budget=a.drain_budget, queues=queues, empty_queues=empty)
                runs[name].append(res)
                if "rate" in res:
                    ctx.log(f"  {system:14s} {name:5s} ({queues} busy, {empty} empty) {res['rate']:8.0f} wf/s"
                            f"{'' if res['drained'] else ' (budget ran out)'} (round {r + 1})")
        out[system] = summarize(runs)
    return out


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians per configuration, the ratios of the medians and each round's ratios."""
    out: dict[str, Any] = {}
    for name, results in runs.items():
        rates = [res["rate"] for res in results if "rate" in res]
        out[name] = {"rate": statistics.median(rates) if rates else None, "rounds": [round(x, 1) for x in rates],
                     "drained": all(res.get("drained", False) for res in results),
                     "done": min((res.get("done", 0) for res in results), default=0),
                     "n": results[0].get("n") if results else None, "runs": results}
    one = out.get("one", {}).get("rate")
    for name in ("many", "empty"):
        mine = out.get(name, {}).get("rate")
        out[f"{name}_over_one"] = mine / one if mine and one else None
        out[f"{name}_over_one_rounds"] = [
            round(m["rate"] / o["rate"], 3) for m, o in zip(runs.get(name, []), runs.get("one", []), strict=False)
            if m.get("rate") and o.get("rate")]
    return out


def rows(results: dict[str, Any], systems: list[str], cell: Any, num: Any) -> list[Row]:
    """The table rows (cell/num: report's formatters)."""
    res = results.get("queues")
    if not res:
        return []
    sample = next((g for g in res.values() if g), {})
    many, empty = _setting(sample, "many", "queues"), _setting(sample, "empty", "empty_queues")
    out: list[Row] = []
    for name, label in (("one", "queues: 1 queue, 0-step (wf/s)"),
                        ("many", f"queues: spread over {many} queues (wf/s)"),
                        ("empty", f"queues: 1 busy + {empty} empty (wf/s)")):
        out.append((label, rate_cells({s: (res.get(s) or {}).get(name) for s in systems if res.get(s)},
                                      systems, cell)))
        if name != "one":
            out.append((f"  ratio {name}/one", {s: "n/a" if res.get(s) is None else
                                                 num(res[s].get(f"{name}_over_one"), "{:.2f}") for s in systems}))
    return out


def _setting(summary: dict[str, Any], name: str, key: str) -> Any:
    """A harness setting (queues, empty_queues) of a configuration's first run."""
    runs = (summary.get(name) or {}).get("runs") or [{}]
    return runs[0].get(key, "?")

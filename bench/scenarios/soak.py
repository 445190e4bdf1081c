"""soak (dbos-workers only): the pool runs with `workflow_retention_sec` = --soak-retention (60 s,
the least the config accepts) while a producer process outside it offers 1-step workflows at
--soak-rate (default: half of the 1-step burn-down rate of this run, else of a quick
min(--n, 2000) burn-down) for --soak-seconds (600), from --soak-producer-threads (8) threads.
Measured by harness_soak.scenario_soak: every 10 s the database side (rows, table and index
bytes, rows deleted) and each pool process's memory; per 10 s window, from the timestamps, the
achieved enqueue rate, completions/s and enqueue->start / enqueue->result p50/p99.

summarize() derives the report: the first vs the last minute (or third, for soaks shorter than
3 minutes) of throughput and p99, tables+indexes at 5 min (or half-way) vs at the end, the
pool processes' private memory (RssAnon) growth after a 60 s (or a third) warm-up, and the
rows pruned (n_tup_del of workflow_status).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..runner import Context
from . import burndown

SYSTEMS = ("dbos-workers",)
Row = tuple[str, dict[str, str]]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--soak-rate", type=float, default=None,
                   help="soak: offered workflows/s (default: half the 1-step burn-down rate)")
    p.add_argument("--soak-seconds", type=float, default=600.0, help="soak: seconds of offering (default 600)")
    p.add_argument("--soak-retention", type=float, default=60.0, help="soak: workflow_retention_sec (>= 60)")
    p.add_argument("--soak-producer-threads", type=int, default=8, help="soak: producer threads (default 8)")


def run(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    out: dict[str, Any] = {}
    for system in ctx.systems:
        if system not in SYSTEMS:
            continue
        ref = None if a.soak_rate else burndown.reference_rate(ctx, system, "1", 2000)
        rate = a.soak_rate or (ref and round(ref / 2, 1))
        if not rate:
            out[system] = {"error": "no 1-step burn-down rate"}
            continue
        ctx.log(f"  {system:14s} offering {rate:.0f} 1-step workflows/s for {a.soak_seconds:.0f} s "
                f"(retention {a.soak_retention:.0f} s)")
        res = ctx.run(system, "soak", timeout=a.soak_seconds + 600, rates=[rate], seconds=a.soak_seconds,
                      procs=a.procs, threads=a.threads, retention_sec=a.soak_retention,
                      producer_threads=a.soak_producer_threads)
        if "windows" in res:
            res["reference_rate"] = ref
            res["summary"] = summarize(res)
            _log(ctx, system, res["summary"])
        out[system] = res
    return out


def _ratio(first: float | None, last: float | None) -> float | None:
    return last / first if first and last else None


def _nearest(samples: list[dict[str, Any]], t: float) -> dict[str, Any]:
    return min(samples, key=lambda s: abs(s["t"] - t))


def _bytes(sample: dict[str, Any], tables: list[str], key: str) -> int:
    return sum(sample[t][key] for t in tables)


def summarize(res: dict[str, Any]) -> dict[str, Any]:
    """The soak's report figures from its raw windows and samples."""
    first, last, samples, seconds = res["first"], res["last"], res["samples"], res["seconds"]
    tables = [k for k, v in res["before"].items() if isinstance(v, dict) and "total_bytes" in v]
    mid, end = _nearest(samples, min(300.0, seconds / 2)), samples[-1]
    warm = min(60.0, seconds / 3)
    base = next((s for s in samples if s["t"] >= warm), samples[0])
    memory = {}
    for pid, proc in end["processes"].items():
        was = base["processes"].get(pid)
        if was and was["anon_mb"]:
            memory[pid] = {"name": proc["name"], "anon_mb": [was["anon_mb"], proc["anon_mb"]],
                           "rss_mb": [was["rss_mb"], proc["rss_mb"]],
                           "growth_pct": 100 * (proc["anon_mb"] - was["anon_mb"]) / was["anon_mb"]}
    pool = [m["growth_pct"] for m in memory.values() if m["name"] != "app"]
    status = tables[0]
    out = {"span_s": last["to_s"] - last["from_s"], "warm_up_s": base["t"], "size_at_s": [mid["t"], end["t"]],
           "completion_rate": [first["completion_rate"], last["completion_rate"]],
           "to_start_p99_ms": [first["to_start"]["p99_ms"], last["to_start"]["p99_ms"]],
           "to_result_p99_ms": [first["to_result"]["p99_ms"], last["to_result"]["p99_ms"]],
           "total_bytes": [_bytes(mid, tables, "total_bytes"), _bytes(end, tables, "total_bytes")],
           "index_bytes": [_bytes(mid, tables, "index_bytes"), _bytes(end, tables, "index_bytes")],
           "rows": [sum(mid[t]["rows"] for t in tables), sum(end[t]["rows"] for t in tables)],
           "memory": memory, "pool_growth_pct_max": max(pool) if pool else None,
           "backlog_max": max(s["backlog"] for s in samples),
           "pruned": res["after_drain"][status]["deleted"] - res["before"][status]["deleted"]}
    for key in ("completion_rate", "to_start_p99_ms", "to_result_p99_ms", "total_bytes", "index_bytes"):
        out[f"{key}_ratio"] = _ratio(*out[key])
    return out


def _log(ctx: Context, system: str, s: dict[str, Any]) -> None:
    mb = [b / 2**20 for b in s["total_bytes"]]
    ctx.log(f"  {system:14s} completions/s {s['completion_rate'][0]:.0f} -> {s['completion_rate'][1]:.0f}, "
            f"start p99 {s['to_start_p99_ms'][0] or 0:.1f} -> {s['to_start_p99_ms'][1] or 0:.1f} ms, "
            f"tables {mb[0]:.1f} -> {mb[1]:.1f} MB, pool memory growth "
            f"{'-' if s['pool_growth_pct_max'] is None else format(s['pool_growth_pct_max'], '+.1f')} %, "
            f"pruned {s['pruned']}")


def rows(results: dict[str, Any], systems: list[str], cell: Any, num: Any) -> list[Row]:
    """The table rows (cell/num: report's formatters); systems not soaked show n/a."""
    res = results.get("soak")
    if not res:
        return []
    got = {s: (res.get(s) or {}).get("summary") for s in systems}
    raw = {s: res.get(s) or {} for s in systems}

    def line(label: str, fmt: Any) -> Row:
        return (label, {s: "n/a" if s not in res else "-" if got[s] is None else fmt(got[s], raw[s])
                        for s in systems})

    def pair(key: str, f: str = "{:.0f}", scale: float = 1.0) -> Any:
        def fmt(g: dict[str, Any], _: dict[str, Any]) -> str:
            a, b = (None if v is None else v / scale for v in g[key])
            return f"{num(a, f)} / {num(b, f)} ({num(g[f'{key}_ratio'], '{:.2f}')}x)"
        return fmt

    first = next((g for g in got.values() if g), {"span_s": 60, "size_at_s": [300]})
    span, at = first["span_s"], first["size_at_s"][0]
    return [
        line("soak 1-step: offered / achieved (/s)",
             lambda g, r: f"{num(r.get('rate'))} / {num(r.get('achieved_rate'))}"),
        line(f"  completions/s, first / last {span:.0f} s", pair("completion_rate")),
        line("  enqueue->start p99 first / last (ms)", pair("to_start_p99_ms", "{:.1f}")),
        line("  enqueue->result p99 first / last (ms)", pair("to_result_p99_ms", "{:.1f}")),
        line(f"  tables+indexes MB at {at:.0f} s / end", pair("total_bytes", "{:.1f}", 2**20)),
        line("  backlog at most (ENQUEUED+PENDING)", lambda g, _: num(g["backlog_max"])),
        line("  pool private memory growth after warm-up",
             lambda g, _: "-" if g["pool_growth_pct_max"] is None else f"{g['pool_growth_pct_max']:+.1f}% (max)"),
        line("  rows pruned", lambda g, _: num(g["pruned"])),
    ]

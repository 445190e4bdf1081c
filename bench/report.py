"""The one printed table (absolutes plus ratios vs dbos-workers), the JSON file and the PNG
chart (drawn by bench/chart.py with matplotlib from its own venv; never a project dependency)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from . import envs
from .scenarios import asyncio_burndown, enqueue, pgcost, queues, soak, transaction
from .scenarios.pglimit import min_commits

BASE = "dbos-workers"
Row = tuple[str, dict[str, str]]


def _num(v: float | None, fmt: str = "{:.0f}") -> str:
    return "-" if v is None else fmt.format(v)


def _cell(system: str, value: float | None, base: float | None, higher_better: bool,
          fmt: str = "{:.0f}") -> str:
    """`value`, and for a peer `(dbw R.Rx)`: how many times dbos-workers is better (<1: worse)."""
    text = _num(value, fmt)
    if system == BASE or value is None or base is None or value <= 0 or base <= 0:
        return text
    ratio = base / value if higher_better else value / base
    return f"{text} (dbw {ratio:.2f}x)"


def _burndown_rows(res: dict[str, Any], systems: list[str], tps: float | None) -> list[Row]:
    rows: list[Row] = []
    bd = res.get("burndown")
    if not bd:
        return rows
    for kind in ("0", "1", "3"):
        rates = {s: bd.get(s, {}).get(kind, {}).get("rate") for s in systems}
        base = rates.get(BASE)
        cells = {}
        for s in systems:
            got = bd.get(s, {}).get(kind)
            if got is None:
                cells[s] = "n/a"
                continue
            partial = "" if got.get("drained", True) else f"* {got.get('done')}/{got.get('n')}, "
            cell = _cell(s, rates[s], base, True)
            cells[s] = f"{partial}{cell}" if partial else cell
        rows.append((f"burn-down {kind}-step (wf/s)", cells))
        if tps:
            ceiling = tps / min_commits(int(kind))
            rows.append((f"  % of PG ceiling (tps/{min_commits(int(kind))})",
                         {s: _num(rates[s] and 100 * rates[s] / ceiling, "{:.0f}%") for s in systems}))
        rows.append(("  transactions per workflow",
                     {s: _num(bd.get(s, {}).get(kind, {}).get("xact_per_wf"), "{:.2f}") for s in systems}))
    return rows


def _latency_rows(res: dict[str, Any], systems: list[str]) -> list[Row]:
    lat = res.get("latency")
    if not lat:
        return []
    rows: list[Row] = []
    for key, label in (("to_start", "enqueue->start"), ("to_result", "enqueue->result")):
        for p in ("p50", "p99"):
            vals = {s: ((lat.get(s, {}).get(key) or {}).get(f"{p}_ms")) for s in systems}
            rows.append((f"idle {label} {p} (ms)",
                         {s: _cell(s, vals[s], vals.get(BASE), False, "{:.1f}") for s in systems}))
    rows.append(("  samples", {s: _num(lat.get(s, {}).get("samples")) for s in systems}))
    return rows


def _steady_rows(res: dict[str, Any], systems: list[str]) -> list[Row]:
    st = res.get("steady")
    if not st:
        return []
    rows: list[Row] = []
    for k, frac in enumerate((0.25, 0.5, 0.8)):
        ws = {s: (st.get(s, {}).get("windows") or [None] * 3)[k] for s in systems}
        label = f"steady {int(frac * 100)}%: target/achieved (/s)"
        rows.append((label, {s: f"{_num(w['target_rate'])}/{_num(w['achieved_rate'])}" if w else "-"
                             for s, w in ws.items()}))
        rows.append(("  enqueue->start p50/p95/p99 (ms)",
                     {s: "/".join(_num(w[f"{p}_ms"], "{:.0f}") for p in ("p50", "p95", "p99")) if w else "-"
                      for s, w in ws.items()}))
    return rows


def _scaling_rows(res: dict[str, Any], systems: list[str]) -> list[Row]:
    sc = res.get("scaling")
    if not sc:
        return []
    rows: list[Row] = []
    for procs in ("1", "2", "4"):
        vals = {s: sc.get(s, {}).get(procs, {}).get("rate") for s in systems}
        rows.append((f"scaling cpu, {procs} proc (wf/s)",
                     {s: _cell(s, vals[s], vals.get(BASE), True) for s in systems}))
    rows.append(("  ratio 1->2 procs", {s: _num(sc.get(s, {}).get("ratio_1_to_2"), "{:.2f}") for s in systems}))
    return rows


def table(results: dict[str, Any], meta: dict[str, Any], systems: list[str]) -> str:
    pgl = results.get("pglimit") or {}
    tps = pgl.get("tps")
    rows = (_burndown_rows(results, systems, tps) + _latency_rows(results, systems)
            + _steady_rows(results, systems) + _scaling_rows(results, systems)
            + transaction.rows(results, systems, _cell, _num) + pgcost.rows(results, systems, _cell, _num)
            + asyncio_burndown.rows(results, systems, _cell, _num) + enqueue.rows(results, systems, _cell, _num)
            + queues.rows(results, systems, _cell, _num) + soak.rows(results, systems, _cell, _num))
    head = [f"{s} {meta['versions'].get(s, '')}".strip() for s in systems]
    w0 = max([len(r[0]) for r in rows] + [10])
    widths = [max([len(h)] + [len(r[1].get(s, "")) for r in rows]) for h, s in zip(head, systems, strict=True)]
    lines = [_header(meta, pgl)]
    lines.append(" | ".join([" " * w0] + [h.rjust(w) for h, w in zip(head, widths, strict=True)]))
    lines.append("-+-".join(["-" * w0] + ["-" * w for w in widths]))
    for label, cells in rows:
        lines.append(" | ".join([label.ljust(w0)] + [cells.get(s, "").rjust(w)
                                                      for s, w in zip(systems, widths, strict=True)]))
    lines.append("(dbw R.RRx) = how many times dbos-workers is better than that peer on this row "
                 "(throughput: dbw/peer; latency: peer/dbw); below 1.00x dbos-workers loses.")
    if any("* " in cells.get(s, "") for _, cells in rows for s in systems):
        lines.append(f"* k/N: the drain budget ({meta.get('drain_budget', '?')} s) ran out after k of N "
                     "workflows; the rate is k / elapsed time.")
    return "\n".join(lines)


def _header(meta: dict[str, Any], pgl: dict[str, Any]) -> str:
    pgf = meta.get("postgres", {})
    text = (f"{meta['date']}  host: {meta['cores']} cores  Postgres {pgf.get('server_version', '?')} "
            f"(fsync={pgf.get('fsync', '?')}, synchronous_commit={pgf.get('synchronous_commit', '?')})  "
            f"load avg before/after: {meta.get('loadavg_start', ['?'])[0]}/{meta.get('loadavg_end', ['?'])[0]}\n"
            f"N={meta['n']} per burn-down, {meta['procs']} worker processes; concurrency: job queues "
            f"{meta['threads']}, dbos-workers its default worker_threads (64) unless "
            f"--option dbos-workers:threads=N (see JSON settings); command: {meta['command']}")
    if pgl.get("tps"):
        per = ", ".join(f"-c {c}: {t:.0f}" for c, t in pgl["tps_by_clients"].items())
        text += (f"\npgbench 1-row INSERT commits/s: {per} -> {pgl['tps']:.0f} tps; ceilings "
                 f"(tps / min commits per workflow): 0-step {pgl['ceiling_wf_per_s']['0']:.0f}, "
                 f"1-step {pgl['ceiling_wf_per_s']['1']:.0f}, 3-step {pgl['ceiling_wf_per_s']['3']:.0f} wf/s")
    return text + "\n"


def write_json(path: Path, meta: dict[str, Any], results: dict[str, Any]) -> None:
    path.write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str))


def chart(json_path: Path, png: Path, log: Any = print) -> bool:
    """Draw the PNG with bench/chart.py in its own venv (bench/.venvs/chart: matplotlib)."""
    try:
        python = envs.ensure_tool("chart", log=log)
        subprocess.run([str(python), str(envs.BENCH / "chart.py"), str(json_path), str(png)],
                       check=True, capture_output=True, timeout=120)
        return png.is_file()
    except (OSError, subprocess.SubprocessError) as exc:
        log(f"[chart] not drawn: {exc}")
        return False

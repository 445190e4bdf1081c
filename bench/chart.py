"""Draw bench/results/<ts>.png from its JSON: one panel per scenario run (burn-down rates, idle
latency, CPU-bound scaling, enqueue, many queues, the soak's time series) per system. Run by the driver with the python of bench/.venvs/chart (matplotlib is
installed there, never into the project):

    bench/.venvs/chart/bin/python bench/chart.py bench/results/<ts>.json bench/results/<ts>.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _bars(ax: Any, groups: list[str], systems: list[str], value: Any, title: str, ylabel: str) -> None:
    width = 0.8 / max(1, len(systems))
    for k, system in enumerate(systems):
        vals = [value(system, g) or 0 for g in groups]
        ax.bar([x + k * width for x in range(len(groups))], vals, width, label=system)
    ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(groups))])
    ax.set_xticklabels(groups)
    ax.set_title(title)
    ax.set_ylabel(ylabel)


def _burndown(ax: Any, res: dict[str, Any], systems: list[str]) -> None:
    bd = res.get("burndown") or {}
    _bars(ax, ["0", "1", "3"], systems,
          lambda s, k: bd.get(s, {}).get(k, {}).get("rate"), "burn-down", "workflows/s (log)")
    ax.set_yscale("log")
    ax.set_xticklabels(["0-step", "1-step", "3-step"])


def _latency(ax: Any, res: dict[str, Any], systems: list[str]) -> None:
    lat = res.get("latency") or {}
    _bars(ax, ["p50", "p99"], systems, lambda s, p: (lat.get(s, {}).get("to_start") or {}).get(f"{p}_ms"),
          "idle enqueue->start", "ms (log)")
    ax.set_yscale("log")


def _scaling(ax: Any, res: dict[str, Any], systems: list[str]) -> None:
    sc = res.get("scaling") or {}
    _bars(ax, ["1", "2", "4"], systems,
          lambda s, p: sc.get(s, {}).get(p, {}).get("rate"), "CPU-bound burn-down", "workflows/s")
    ax.set_xticklabels(["1 proc", "2 procs", "4 procs"])


def _enqueue(ax: Any, res: dict[str, Any], systems: list[str]) -> None:
    en = res["enqueue"]
    _bars(ax, ["single", "bulk"], systems, lambda s, m: ((en.get(s) or {}).get(m) or {}).get("rate"),
          "enqueue, pool stopped", "enqueues/s (log)")
    ax.set_yscale("log")
    ax.set_xticklabels(["1 per call, threads", "bulk"])


def _queues(ax: Any, res: dict[str, Any], systems: list[str]) -> None:
    qs = res["queues"]
    _bars(ax, ["one", "many", "empty"], systems, lambda s, k: ((qs.get(s) or {}).get(k) or {}).get("rate"),
          "many queues, 0-step burn-down (median)", "workflows/s")
    ax.set_xticklabels(["1 queue", "spread over many", "1 + empty ones"])


def _soak(ax: Any, res: dict[str, Any], systems: list[str]) -> None:
    right = ax.twinx()
    for system, got in res["soak"].items():
        ws = [w for w in got.get("windows") or [] if "completion_rate" in w]
        t = [w["t"] for w in ws]
        ax.plot(t, [w["completion_rate"] for w in ws], label=f"{system} completions/s")
        right.plot(t, [w["to_start"]["p99_ms"] for w in ws], linestyle="--", label="enqueue->start p99")
        right.plot(t, [w["to_result"]["p99_ms"] for w in ws], linestyle=":", label="enqueue->result p99")
    ax.set_title("soak (10 s windows)")
    ax.set_xlabel("s")
    ax.set_ylabel("completions/s")
    right.set_ylabel("ms")
    ax.legend(fontsize=7, loc="lower left")
    right.legend(fontsize=7, loc="lower right")


PANELS = {"burndown": _burndown, "latency": _latency, "scaling": _scaling, "enqueue": _enqueue,
          "queues": _queues, "soak": _soak}


def draw(data: dict[str, Any], out: Path) -> None:
    """One panel per scenario of the run that has one (the first three when none is there)."""
    res, systems = data["results"], list(data["meta"]["versions"])
    names = [k for k in PANELS if res.get(k)] or ["burndown", "latency", "scaling"]
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4.5 * rows), squeeze=False)
    for k, name in enumerate(names):
        PANELS[name](axes[k // cols][k % cols], res, systems)
    for k in range(len(names), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    first = axes[0][0]
    if names[0] != "soak":
        first.legend(fontsize=8)
    fig.suptitle(f"{data['meta']['date']}  {data['meta']['cores']} cores  N={data['meta']['n']}")
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    draw(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))

"""Draw bench/results/<ts>.png from its JSON: burn-down rates, idle latency and CPU-bound
scaling per system. Run by the driver with the python of bench/.venvs/chart (matplotlib is
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


def draw(data: dict[str, Any], out: Path) -> None:
    res, systems = data["results"], list(data["meta"]["versions"])
    bd, lat, sc = res.get("burndown") or {}, res.get("latency") or {}, res.get("scaling") or {}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    _bars(axes[0], ["0", "1", "3"], systems,
          lambda s, k: bd.get(s, {}).get(k, {}).get("rate"), "burn-down", "workflows/s (log)")
    axes[0].set_yscale("log")
    axes[0].set_xticklabels(["0-step", "1-step", "3-step"])
    _bars(axes[1], ["p50", "p99"], systems,
          lambda s, p: (lat.get(s, {}).get("to_start") or {}).get(f"{p}_ms"),
          "idle enqueue->start", "ms (log)")
    axes[1].set_yscale("log")
    _bars(axes[2], ["1", "2", "4"], systems,
          lambda s, p: sc.get(s, {}).get(p, {}).get("rate"), "CPU-bound burn-down", "workflows/s")
    axes[2].set_xticklabels(["1 proc", "2 procs", "4 procs"])
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{data['meta']['date']}  {data['meta']['cores']} cores  N={data['meta']['n']}")
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    draw(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))

"""bench/: the enqueue, queues and soak scenarios' derived figures and table rows (no database,
no peer runs: synthetic peer results)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.scenarios import queues, soak

PEERS = Path(__file__).resolve().parents[2] / "bench" / "peers"


def _meta(systems: list[str]) -> dict[str, Any]:
    return {"date": "now", "cores": 2, "n": 100, "procs": 2, "threads": 16, "command": "x",
            "versions": {s: "1" for s in systems}}


def _run(rate: float, **extra: Any) -> dict[str, Any]:
    return {"rate": rate, "drained": True, "done": 100, "n": 100, **extra}


def test_queues_medians_and_ratios() -> None:
    runs = {"one": [_run(100), _run(120), _run(80)],
            "many": [_run(70, queues=1000), _run(90, queues=1000), _run(50, queues=1000)],
            "empty": [_run(95, empty_queues=100), _run(96, empty_queues=100), _run(97, empty_queues=100)]}
    got = queues.summarize(runs)
    assert got["one"]["rate"] == 100 and got["many"]["rate"] == 70
    assert got["many_over_one"] == pytest.approx(0.70)
    assert got["empty_over_one"] == pytest.approx(0.96)
    assert got["many_over_one_rounds"] == [0.7, 0.75, 0.625]
    text = report.table({"queues": {"dbos-workers": got}}, _meta(["dbos-workers", "dbos"]), ["dbos-workers", "dbos"])
    assert "spread over 1000 queues" in text and "1 busy + 100 empty" in text
    row = next(line for line in text.splitlines() if line.startswith("  ratio many/one"))
    assert "0.70" in row and row.rstrip().endswith("n/a")


def test_enqueue_rows_ratio_and_na() -> None:
    res = {"dbos-workers": {"single": {"rate": 6000.0, "threads": 16, "counted": 132, "complete": True},
                            "bulk": {"rate": 30000.0, "batch": 1000, "complete": True}},
           "dbos": {"single": {"rate": 3000.0, "threads": 16, "complete": True}}}
    text = report.table({"enqueue": res}, _meta(["dbos-workers", "dbos"]), ["dbos-workers", "dbos"])
    single = next(line for line in text.splitlines() if line.startswith("enqueue, 16 threads"))
    bulk = next(line for line in text.splitlines() if line.startswith("enqueue bulk, 1000 per call"))
    assert "3000 (dbw 2.00x)" in single
    assert "30000" in bulk and bulk.rstrip().endswith("n/a")


def _sample(t: float, rows: int, deleted: int, anon: float, backlog: int = 0) -> dict[str, Any]:
    table = {"rows": rows, "total_bytes": rows * 1000, "table_bytes": rows * 700, "index_bytes": rows * 300,
             "deleted": deleted, "dead": 0}
    return {"t": t, "backlog": backlog, "workflow_status": table, "operation_outputs": dict(table),
            "processes": {"1": {"name": "app", "rss_mb": 70.0, "anon_mb": 50.0},
                          "2": {"name": "dbw-worker-0", "rss_mb": 60.0, "anon_mb": anon}}}


def _segment(lo: float, hi: float, rate: float, p99: float) -> dict[str, Any]:
    lat = {"n": 10, "p50_ms": p99 / 2, "p95_ms": p99, "p99_ms": p99, "max_ms": p99}
    return {"from_s": lo, "to_s": hi, "enqueued": 10, "completion_rate": rate, "to_start": lat, "to_result": lat}


def test_soak_summary() -> None:
    samples = [_sample(t, rows=min(t, 90) * 100, deleted=max(0, t - 90) * 100, anon=40 + t / 600, backlog=t // 100)
               for t in range(10, 601, 10)]
    res = {"seconds": 600.0, "samples": samples, "before": _sample(0, 0, 0, 40.0),
           "after_drain": _sample(601, 9000, 51200, 41.0),
           "first": _segment(0, 60, 400.0, 10.0), "last": _segment(540, 600, 380.0, 12.0)}
    got = soak.summarize(res)
    assert got["size_at_s"] == [300, 600] and got["total_bytes_ratio"] == pytest.approx(1.0)
    assert got["completion_rate_ratio"] == pytest.approx(0.95)
    assert got["to_start_p99_ms_ratio"] == pytest.approx(1.2)
    assert got["warm_up_s"] == 60 and got["pruned"] == 51200 and got["backlog_max"] == 6
    assert got["pool_growth_pct_max"] == pytest.approx(100 * (41.0 - 40.1) / 40.1)
    text = report.table({"soak": {"dbos-workers": {**res, "rate": 400.0, "achieved_rate": 399.0, "summary": got}}},
                        _meta(["dbos-workers", "pgqueuer"]), ["dbos-workers", "pgqueuer"])
    assert "400 / 399" in text and "tables+indexes MB at 300 s / end" in text
    assert "completions/s, first / last 60 s" in text


def test_soak_windows_from_stamps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PEERS))
    import harness
    import harness_soak

    n, t0 = 40, 1000.0
    shared = {"enq": [t0 + i * 0.5 for i in range(n)] + [0.0] * 4,
              "start": [t0 + i * 0.5 + 0.01 for i in range(n)] + [0.0] * 4,
              "end": [t0 + i * 0.5 + 0.02 for i in range(n)] + [0.0] * 4}
    monkeypatch.setattr(harness, "SHARED", shared)
    res = [t0 + i * 0.5 + 0.03 if i % 4 == 0 else 0.0 for i in range(n)] + [0.0] * 4
    windows = harness_soak._windows(t0, 20.0, 10.0, n, res)
    assert [w["enqueue_rate"] for w in windows[:2]] == [2.0, 2.0]
    assert [w["completion_rate"] for w in windows[:2]] == [2.0, 2.0] and windows[2]["drain_completions"] == 0
    assert windows[0]["to_start"]["p99_ms"] == pytest.approx(10.0, abs=1e-6)
    assert windows[0]["to_result"]["n"] == 5
    first = harness_soak._segment(t0, 0.0, 5.0, n, res)
    assert first["enqueued"] == 10 and first["completion_rate"] == pytest.approx(2.0)
    for name in ("harness_soak", "harness"):
        sys.modules.pop(name, None)

"""bench/: the enqueue and queues scenarios' derived figures and table rows (no database,
no peer runs: synthetic peer results)."""

from __future__ import annotations

from typing import Any

import pytest

from bench import report
from bench.scenarios import queues


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

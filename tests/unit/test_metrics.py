"""Metrics without a database: the switch, config validation, the route while off, the
Grafana dashboard's metric names, and forgetting exited processes' live gauges."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from dbos_workers import metrics
from dbos_workers.config import build_settings
from dbos_workers.errors import DBOSConfigError
from dbos_workers.httpserve import HttpApp, Request
from dbos_workers.metrics.run import MetricsRun, metrics_routes

pytest.importorskip("prometheus_client")
REPO = Path(__file__).resolve().parents[2]


def test_hooks_do_nothing_while_off() -> None:
    assert metrics.active() is None
    assert metrics.workflow_started("q", "wf") == 0.0
    metrics.workflow_finished("q", "wf", "SUCCESS")
    metrics.group_commit("dbos-outcomes", 3, 0.0)
    metrics.db_error(RuntimeError())


def test_metrics_route_is_404_while_off() -> None:
    app = HttpApp()
    metrics_routes(app)
    response = app(Request("GET", "/metrics", {}, {}))
    assert response.status == 404 and b"enable_metrics" in response.payload()


def test_observability_config_keys() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # enable_otlp is recognised now: no "not supported" warning
        s = build_settings({"name": "app", "enable_metrics": True, "metrics_port": 9464, "enable_otlp": True,
                            "otlp_traces_endpoints": ["http://collector:4318/v1/traces"]})
    obs = s.observability
    assert (obs.enable_metrics, obs.metrics_port, obs.metrics_host, obs.enable_otlp) == (True, 9464, "127.0.0.1", True)
    assert obs.otlp_traces_endpoints == ("http://collector:4318/v1/traces",)
    assert build_settings({"name": "app"}).observability.enable_metrics is False
    for bad in ({"enable_metrics": "yes"}, {"metrics_port": 70000}, {"metrics_port": True},
                {"otlp_traces_endpoints": "http://x"}):
        with pytest.raises(DBOSConfigError):
            build_settings({"name": "app", **bad})


def test_grafana_dashboard_names_only_metrics_that_exist() -> None:
    from dbos_workers.metrics.instruments import Instruments

    families = {m.name for m in Instruments().registry.collect()} | {"dbw_queue_depth", "dbw_queue_head_age_seconds"}
    dashboard = json.loads((REPO / "deploy" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {re.sub(r"_(total|bucket|sum|count)$", "", n) for e in exprs for n in re.findall(r"dbw_[a-z_]+", e)}
    assert used and used <= families, used - families
    assert families - used == set(), f"metrics without a panel: {families - used}"


def test_scrape_forgets_live_gauges_of_exited_processes(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for name in (f"gauge_liveall_{dead.pid}.db", f"gauge_livesum_{dead.pid}.db", f"counter_{dead.pid}.db",
                 f"gauge_liveall_{os.getpid()}.db"):
        (tmp_path / name).write_bytes(b"")
    run = MetricsRun(tmp_path, owned=False)
    assert run.forget_dead() == 1
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {f"counter_{dead.pid}.db", f"gauge_liveall_{os.getpid()}.db"}

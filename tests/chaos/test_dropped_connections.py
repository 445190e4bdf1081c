"""Dropped and stalled connections through a TCP proxy: workers, listeners and the app
reconnect, waiters survive, and every workflow completes exactly once."""

from __future__ import annotations

import importlib
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dbos_workers.db.listener import Listener, Waiters
from tests.chaos.proxy import ChaosProxy
from tests.helpers import query, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


@pytest.fixture
def proxy(pg_url: str) -> Iterator[tuple[ChaosProxy, str]]:
    parts = urlsplit(pg_url)
    host = parse_qs(parts.query).get("host", [parts.hostname or "127.0.0.1"])[0]
    port = parts.port or 5432
    upstream: str | tuple[str, int] = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
    p = ChaosProxy(upstream)
    user = parts.username or "postgres"
    yield p, f"postgresql://{user}@127.0.0.1:{p.port}{parts.path}"
    p.close()


def test_cut_connections_lose_nothing(proxy: tuple[ChaosProxy, str], pg_url: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    chaos, url = proxy
    schema = f"cut_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CHAOS_URL", url)
    monkeypatch.setenv("CHAOS_SCHEMA", schema)
    sys.modules.pop("tests.chaos.apps.cut_app", None)
    app = importlib.import_module("tests.chaos.apps.cut_app")
    from dbos_workers import DBOS

    DBOS.launch()
    n = 300
    handles = [app.work.enqueue(app.two_steps, i) for i in range(n)]
    results: dict[int, Any] = {}
    collector = threading.Thread(target=lambda: results.update(
        {i: h.get_result() for i, h in enumerate(handles)}))
    collector.start()
    cut_total = 0
    for threshold in (50, 150):
        wait_until(lambda t=threshold: query(pg_url, schema, "SELECT count(*) AS c FROM workflow_status "
                                             "WHERE status = 'SUCCESS'")[0]["c"] >= t, 60, 0.01)
        cut_total += chaos.cut()
    collector.join(120)
    assert not collector.is_alive()
    assert [results[i] for i in range(n)] == [i * 2 + 1 for i in range(n)]
    statuses = query(pg_url, schema, "SELECT status, count(*) AS c FROM workflow_status GROUP BY status")
    assert {r["status"]: r["c"] for r in statuses} == {"SUCCESS": n}
    print(f"\ndropped connections: workflows={n} cuts={chaos.cuts} connections_cut={cut_total} lost=0")
    assert cut_total > 0
    DBOS.destroy(workflow_completion_timeout_sec=5, destroy_registry=True)


def test_stalled_listener_is_detected_and_reconnected(proxy: tuple[ChaosProxy, str]) -> None:
    chaos, url = proxy
    waiters = Waiters()
    listener = Listener(url, "dbos_workers_stall_test", waiters, health_check_sec=0.3,
                        health_timeout_sec=0.5)
    listener.start()
    try:
        chaos.stalled.set()  # the socket stays open; nothing flows
        time.sleep(1.5)  # longer than check interval + timeout: the stall is what is tested
        chaos.stalled.clear()
        wait_until(lambda: listener.reconnects >= 1, 10)
    finally:
        listener.stop()

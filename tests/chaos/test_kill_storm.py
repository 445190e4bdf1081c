"""Kill storm: SIGKILL a random worker every ~0.5 s (and the leader now and then) while 2,000
three-step workflows run. Every workflow succeeds exactly once, every step's recorded output
matches its input, and step re-executions stay within what was in flight at the kills."""

from __future__ import annotations

import importlib
import os
import random
import signal
import sys
import time
import uuid
from typing import Any

import psycopg
import pytest

from tests.helpers import query

pytestmark = [pytest.mark.chaos, pytest.mark.slow]
N = 2000


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql.encode()).fetchone()
        return int(row[0]) if row else 0


def test_kill_storm_loses_nothing(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = f"storm_{uuid.uuid4().hex[:8]}"
    table = f"storm_effects_{schema}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (n INT, k INT, pid INT)".encode())
    monkeypatch.setenv("CHAOS_URL", pg_url)
    monkeypatch.setenv("CHAOS_SCHEMA", schema)
    sys.modules.pop("tests.chaos.apps.storm_app", None)
    app = importlib.import_module("tests.chaos.apps.storm_app")
    monkeypatch.setattr(app, "_conn", _table_conn(app, table))
    from dbos_workers import DBOS

    DBOS.launch()
    supervisor = DBOS._get().lifecycle._supervisor
    handles = [app.work.enqueue(app.three_steps, i) for i in range(N)]
    kills = leader_kills = in_flight_at_kills = 0
    rng = random.Random(7)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = _count(pg_url, f"SELECT count(*) FROM {schema}.workflow_status WHERE status = 'SUCCESS'")
        if done >= N:
            break
        live = query(pg_url, schema, "SELECT e.pid, e.executor_id, (l.instance_id IS NOT NULL) AS leads "
                     "FROM executors e LEFT JOIN leader l ON l.instance_id = e.instance_id "
                     "WHERE e.role = 'worker' AND e.stopped_at IS NULL")
        live = [r for r in live if r["pid"] in supervisor.worker_pids()]
        if live:
            leaders = [r for r in live if r["leads"]]
            target = leaders[0] if leaders and kills % 4 == 3 else rng.choice(live)
            leader_kills += int(bool(target["leads"]))
            in_flight_at_kills += _count(pg_url, f"SELECT count(*) FROM {schema}.workflow_status "
                                         f"WHERE status = 'PENDING' AND executor_id = '{target['executor_id']}'")
            os.kill(target["pid"], signal.SIGKILL)
            kills += 1
        time.sleep(0.5)  # the storm's pace, not a synchronization
    results = [h.get_result(timeout=60) for h in handles]
    assert results == [[i * 10, i * 10 + 1, i * 10 + 2] for i in range(N)]
    statuses = query(pg_url, schema, "SELECT status, count(*) AS c FROM workflow_status GROUP BY status")
    assert {r["status"]: r["c"] for r in statuses} == {"SUCCESS": N}
    outputs = query(pg_url, schema, "SELECT count(*) AS c FROM operation_outputs")[0]["c"]
    assert outputs == 3 * N
    executions = _count(pg_url, f"SELECT count(*) FROM {table}")
    distinct = _count(pg_url, f"SELECT count(*) FROM (SELECT DISTINCT n, k FROM {table}) d")
    assert distinct == 3 * N
    re_executions = executions - 3 * N
    print(f"\nkill storm: workflows={N} kills={kills} leader_kills={leader_kills} lost=0 "
          f"duplicated_outcomes=0 step_re_executions={re_executions} in_flight_at_kills={in_flight_at_kills}")
    assert kills >= 3
    assert re_executions <= in_flight_at_kills
    DBOS.destroy(workflow_completion_timeout_sec=5, destroy_registry=True)


def _table_conn(app: Any, table: str) -> Any:
    """Point the app's side-effect inserts at this test's table."""
    original = app._conn

    class _Proxy:
        def __init__(self, conn: Any) -> None:
            self._conn = conn

        def execute(self, statement: str, params: Any) -> Any:
            return self._conn.execute(statement.replace("storm_effects", table), params)

    return lambda: _Proxy(original())

"""A database that allows fewer connections than the pool may open (#16 item 7): a clear
warning at launch, and the work still completes with nothing lost. The cap is a database
CONNECTION LIMIT for a non-superuser role (superusers are exempt), the same refusal
("too many connections") a low max_connections gives, without restarting the server."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from dbos_workers import DBOS, Queue
from dbos_workers.config import build_settings
from dbos_workers.connections import appetite

pytestmark = pytest.mark.integration

LIMIT = 6  # below what 2 workers and the app need at one connection per pool (8)


def _capped_database(pg_url: str) -> str:
    role, database = "dbw_capped", f"dbw_capped_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
            conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"CREATE DATABASE {database} OWNER {role} CONNECTION LIMIT {LIMIT}")
    parts = urlsplit(pg_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{role}@{host}", f"/{database}", parts.query, ""))


def test_appetite_per_host() -> None:
    s = build_settings({"name": "app", "worker_processes": 3, "sys_db_pool_size": 10,
                        "worker_db_pool_size": 5})
    want = appetite(s)
    assert (want.app, want.per_worker, want.total, want.minimum) == (11, 7, 32, 2 + 3 * 3)
    default = appetite(build_settings({"name": "app", "worker_processes": 2}))
    assert (default.app, default.per_worker) == (21, 22)  # 20 + LISTEN; 16 + 4 + LISTEN + elector


def test_work_completes_below_the_pools_appetite(pg_url: str, capfd: pytest.CaptureFixture[str]) -> None:
    url = _capped_database(pg_url)
    q = Queue("capped")

    @DBOS.step()
    def double(i: int) -> int:
        return 2 * i

    @DBOS.workflow()
    def job(i: int) -> int:
        return double(i) + double(i)

    DBOS(config={"name": "capped-app", "system_database_url": url, "worker_processes": 2,
                 "log_level": "WARNING", "executor_id": "capped"})
    try:
        DBOS.launch()
        handles = [q.enqueue(job, i) for i in range(150)]
        assert [h.get_result(timeout=120) for h in handles] == [4 * i for i in range(150)]
    finally:
        DBOS.destroy(destroy_registry=True)
    with psycopg.connect(url, autocommit=True) as conn:
        statuses = conn.execute("SELECT status, count(*) FROM dbos_workers.workflow_status "
                                "WHERE queue_name = 'capped' GROUP BY 1").fetchall()
        steps = conn.execute("SELECT count(*) FROM dbos_workers.operation_outputs").fetchone()
    assert statuses == [("SUCCESS", 150)]
    assert steps == (300,)
    warnings = [json.loads(line) for line in capfd.readouterr().err.splitlines()
                if '"connection_budget_exceeded"' in line]
    assert len(warnings) == 1, warnings
    assert warnings[0]["cap"] == "database CONNECTION LIMIT" and warnings[0]["cap_value"] == LIMIT
    assert warnings[0]["may_open"] == 21 + 2 * 22

"""A pool whose queue tables nothing will vacuum says so at launch (`autovacuum_off`): the
server's `autovacuum` off, or the table's own autovacuum_enabled = off."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg import sql

from dbos_workers import DBOS

pytestmark = pytest.mark.integration


def _warnings(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capfd.readouterr().err.splitlines() if '"autovacuum_off"' in line]


def test_launch_warns_when_nothing_will_vacuum_the_queue_tables(
        launch: Any, pg_url: str, schema: str, capfd: pytest.CaptureFixture[str]) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        server_on = conn.execute("SHOW autovacuum").fetchone()[0] == "on"  # type: ignore[index]
    launch(worker_processes=1, log_level="WARNING")
    assert DBOS._rt().db.executors.autovacuum_on() is server_on
    assert len(_warnings(capfd)) == (0 if server_on else 1)
    DBOS.destroy()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER TABLE {}.workflow_status SET (autovacuum_enabled = off)")
                     .format(sql.Identifier(schema)))
    launch(worker_processes=1, log_level="WARNING")
    assert DBOS._rt().db.executors.autovacuum_on() is False
    found = _warnings(capfd)
    assert len(found) == 1 and found[0]["table"] == "workflow_status" and "VACUUM" in found[0]["hint"]

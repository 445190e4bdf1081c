"""Transactions with real processes: SIGKILL of the app between a transaction's commit and its
workflow's next step (the system database has no record of the transaction yet), and inside
the transaction before its commit. Each time the next launch recovers the workflow and the
order row exists exactly once."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable

import pytest

from tests.acceptance.apps import sidelog
from tests.acceptance.apps.harness import APPS_DIR, REPO_ROOT, AppProcess
from tests.helpers import query, wait_until

pytestmark = [pytest.mark.acceptance]

Spawn = Callable[..., AppProcess]
APP = [sys.executable, str(APPS_DIR / "tx_crash_app.py")]


def _orders(pg_url: str, schema: str) -> list[dict[str, object]]:
    return query(pg_url, schema, "SELECT order_id, phase FROM tx_orders ORDER BY phase")


def _prepare(pg_url: str, schema: str) -> None:
    query(pg_url, "public", f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    query(pg_url, schema, "CREATE TABLE tx_orders (order_id INT, phase TEXT)")  # no key: doubles show


def _recover(spawn: Spawn, env: dict[str, str]) -> list[str]:
    second = spawn(APP, {**env, "ACC_PHASE": "recover"}, REPO_ROOT)
    assert second.wait(60) == 0, second.stderr()[-3000:]
    result: list[str] = json.loads(second.stdout().strip().splitlines()[-1])["result"]
    return result


def test_sigkill_between_commit_and_next_step_replays_the_committed_transaction(
        spawn: Spawn, app_env: dict[str, str], pg_url: str, schema: str) -> None:
    _prepare(pg_url, schema)
    env = {**app_env, "ACC_WORKFLOW_ID": "tx-crash-commit"}
    first = spawn(APP, {**env, "ACC_PHASE": "commit"}, REPO_ROOT)
    wait_until(lambda: sidelog.read(env["ACC_SIDELOG"], step="committed"), 30)
    # The window: committed in the application database, unknown to the system database.
    assert _orders(pg_url, schema) == [{"order_id": 7, "phase": "commit"}]
    assert query(pg_url, schema, "SELECT step_id FROM datasource_outputs WHERE workflow_id = %s",
                 "tx-crash-commit") == [{"step_id": 1}]
    assert query(pg_url, schema, "SELECT count(*) AS n FROM operation_outputs WHERE "
                 "workflow_uuid = 'tx-crash-commit'") == [{"n": 0}]
    first.signal(signal.SIGKILL)
    assert first.wait(5) == -signal.SIGKILL

    assert _recover(spawn, env) == ["placed-7", "shipped-7"]
    assert _orders(pg_url, schema) == [{"order_id": 7, "phase": "commit"}]  # inserted once
    assert [r["phase"] for r in sidelog.read(env["ACC_SIDELOG"], step="tx")] == ["commit"]  # not re-run
    steps = query(pg_url, schema, "SELECT function_id, function_name FROM operation_outputs "
                  "WHERE workflow_uuid = 'tx-crash-commit' ORDER BY function_id")
    assert [(s["function_id"], str(s["function_name"]).rsplit(".", 1)[-1]) for s in steps] == [
        (1, "place"), (2, "ship")]
    assert query(pg_url, schema, "SELECT status FROM workflow_status WHERE "
                 "workflow_uuid = 'tx-crash-commit'") == [{"status": "SUCCESS"}]


def test_sigkill_inside_the_transaction_rolls_it_back_and_recovery_runs_it_once(
        spawn: Spawn, app_env: dict[str, str], pg_url: str, schema: str) -> None:
    _prepare(pg_url, schema)
    env = {**app_env, "ACC_WORKFLOW_ID": "tx-crash-inside"}
    first = spawn(APP, {**env, "ACC_PHASE": "inside"}, REPO_ROOT)
    wait_until(lambda: sidelog.read(env["ACC_SIDELOG"], step="tx_inserted"), 30)
    first.signal(signal.SIGKILL)
    assert first.wait(5) == -signal.SIGKILL

    assert _recover(spawn, env) == ["placed-7", "shipped-7"]
    assert _orders(pg_url, schema) == [{"order_id": 7, "phase": "recover"}]
    assert [r["phase"] for r in sidelog.read(env["ACC_SIDELOG"], step="tx")] == ["inside", "recover"]

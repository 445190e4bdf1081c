"""The hot statements' plans do not degrade with the table: the pool runs generic plans
(`plan_cache_mode = force_generic_plan`) without JIT, and each hot statement's generic plan
reaches workflow_status only through an index, whatever the backlog (a deep backlog is what
overload looks like; a plan that scans the table makes an overloaded system slower the further
behind it is)."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from psycopg import sql

from dbos_workers import DBOS
from dbos_workers.db import migrate
from dbos_workers.db.queries import load_queries
from dbos_workers.db.repository import SESSION_SETUP

pytestmark = pytest.mark.integration

BACKLOG = 200_000
IDS = ["w-10", "w-20"]
HOT: dict[str, dict[str, Any]] = {
    "workflow_claim_batch": dict(executor_id="e", owner_token="t", owner_instance="i", now_ms=5,
                                 queues=["q"], n=64, names=["f"], channel="c", spread=False, k=64),
    "workflow_claim_batch#spread": dict(executor_id="e", owner_token="t", owner_instance="i", now_ms=5,
                                        queues=["q", "r", "s"], n=64, names=["f"], channel="c",
                                        spread=True, k=22),
    "workflow_claim_named": dict(executor_id="e", owner_token="t", owner_instance="i", now_ms=5,
                                 queues=["q"], n=64, names=["f"], include=True),
    "workflow_claim_limited": dict(executor_id="e", owner_token="t", owner_instance="i", now_ms=5,
                                   rate_limited=False, queue="q", n=64, concurrency=10,
                                   rate_limit=None, rate_period_ms=0, names=["f"], instances=["C/x"]),
    "workflow_claim_parked": dict(executor_id="e", owner_token="t", owner_instance="i", now_ms=5,
                                  queues=["q"], n=64, names=["f", "g"], instances=["C/x"]),
    "workflow_complete_batch": dict(workflow_ids=IDS, owner_tokens=["t", "t"], statuses=["SUCCESS"] * 2,
                                    outputs=["o", "o"], errors=["e", "e"], step_ids=[1, 1],
                                    step_names=["s", "s"], step_outputs=["o", "o"],
                                    step_errors=["e", "e"], step_started=[1, 1], now_ms=5, channel="c"),
    "step_record_batch": dict(workflow_ids=IDS, function_ids=[1, 1], function_names=["s", "s"],
                              outputs=["o", "o"], errors=["e", "e"], child_ids=["c", "c"],
                              started=[1, 1], owner_tokens=["t", "t"], completed=[1, 1], now_ms=5),
    "workflow_enqueue_batch": dict(workflow_ids=IDS, statuses=["ENQUEUED"] * 2, names=["f", "f"],
                                   class_names=["c", "c"], config_names=["c", "c"], inputs=["i", "i"],
                                   serializations=["s", "s"], queue_names=["q", "q"], priorities=[0, 0],
                                   deduplication_ids=["d", "e"], application_versions=["v", "v"],
                                   application_names=["a", "a"], max_recovery_attempts=[3, 3],
                                   timeout_ms=[1, 1], delay_until_ms=[1, 1], parent_workflow_ids=["p", "p"],
                                   queue_partition_keys=["k", "k"], is_debounced=[False, False],
                                   debounce_deadlines_ms=[1, 1], authenticated_users=["u", "u"],
                                   authenticated_roles=["r", "r"], assumed_roles=["a", "a"],
                                   attributes=["{}", "{}"], notifies=[True, True], now_ms=5,
                                   channel="c", trace_contexts=["tp", "tp"]),
    "observe_queue_depth": dict(application_names=["a"], cap=10000),
    "workflow_requeue": dict(workflow_ids=IDS, owner_tokens=["t", "t"], owner_instance="i", refund=1,
                             default_queue="q", now_ms=1, channel="c"),
    "workflow_get_outcome": dict(workflow_id="w-10"),
    "step_list": dict(workflow_id="w-10"),
    "maintenance_recover_expired": dict(now_ms=10**13, lease_ms=1000, n=500, default_queue="q", channel="c"),
    "maintenance_promote_delayed": dict(now_ms=10**13, n=500, channel="c"),
    "workflow_cancel_expired": dict(now_ms=10**13, n=500, channel="c"),
}


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, list):
        if value and all(isinstance(v, bool) for v in value):
            return "boolean[]"
        return "bigint[]" if value and all(isinstance(v, int) for v in value) else "text[]"
    return "text"


def generic_plan(conn: psycopg.Connection[Any], name: str, params: dict[str, Any]) -> str:
    """EXPLAIN of the named query's generic plan, prepared as the pool prepares it."""
    names: list[str] = []

    def positional(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    body = re.sub(r"%\((\w+)\)s", positional, load_queries()[name.split("#")[0]])
    types = ", ".join(_type(params[n]) for n in names)
    conn.execute(f"PREPARE plan_probe ({types}) AS {body}".encode())
    try:
        args = sql.SQL(", ").join(sql.Literal(params[n]) for n in names)
        rows = conn.execute(sql.SQL("EXPLAIN EXECUTE plan_probe ({})").format(args)).fetchall()
        return "\n".join(r[0] for r in rows)
    finally:
        conn.execute("DEALLOCATE plan_probe")


def test_pool_sessions_use_generic_plans_without_jit(launch: Any) -> None:
    launch()
    with DBOS._rt().db.repo._pool.connection() as conn:
        settings = {k: conn.execute(f"SHOW {k}".encode()).fetchone()[k]
                    for k in ("plan_cache_mode", "jit", "enable_seqscan", "idle_in_transaction_session_timeout")}
    assert settings == {"plan_cache_mode": "force_generic_plan", "jit": "off", "enable_seqscan": "off",
                        "idle_in_transaction_session_timeout": "15s"}


@pytest.mark.slow
def test_hot_statements_never_scan_workflow_status_at_depth(pg_url: str, schema: str) -> None:
    migrate.migrate(pg_url, schema)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(f"""INSERT INTO workflow_status (workflow_uuid, status, name, inputs, queue_name,
                         created_at, updated_at)
                         SELECT 'w-' || g, 'ENQUEUED', 'f', 'i', 'q', g, g
                         FROM generate_series(1, {BACKLOG}) AS g""".encode())
        conn.execute("ANALYZE workflow_status")
        for setup in SESSION_SETUP:
            conn.execute(load_queries()[setup].encode())
        scans = {}
        for name, params in HOT.items():
            plan = generic_plan(conn, name, params)
            scans[name] = [ln.strip() for ln in plan.splitlines() if "Seq Scan on workflow_status" in ln]
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    assert {k: v for k, v in scans.items() if v} == {}


def test_hot_statements_planned_on_an_empty_table_do_not_scan_it(pg_url: str, schema: str) -> None:
    """A pool session plans each statement once, at its first execution, and keeps that plan:
    on a fresh database the tables are empty then (never analyzed; the planner guesses 10
    pages), so a plan that hash-joins a sequential scan of workflow_status looks cheapest, and
    stays in the session while the table grows (enqueue was 1.4 -> 7.4 ms per statement by
    20,000 rows, until an ANALYZE replanned it). Each hot statement must reach the tables
    through their indexes even when planned on empty ones."""
    migrate.migrate(pg_url, schema)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        for setup in SESSION_SETUP:
            conn.execute(load_queries()[setup].encode())
        scans = {}
        for name, params in HOT.items():
            plan = generic_plan(conn, name, params)
            scans[name] = [ln.strip() for ln in plan.splitlines()
                           if re.search(r"Seq Scan on (workflow_status|operation_outputs)\b", ln)]
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    assert {k: v for k, v in scans.items() if v} == {}

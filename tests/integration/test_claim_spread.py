"""The claim over many queues (workflow_claim_batch with `spread`): it walks the queues in the
order given, up to k = ceil(n / number of queues) rows from each, oldest first within each,
and stops at n rows (round robin across queues: the claimer rotates the order, see
worker/queuewalk.py); it walks past rows another claimer holds. Over two queues it keeps the
oldest n across them."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql

from dbos_workers import DBOS
from dbos_workers.db.workflows import SPREAD_QUEUES
from tests.helpers import query

pytestmark = pytest.mark.integration

QUEUES = [f"s{i}" for i in range(8)]


def _seed(pg_url: str, schema: str, rows: list[tuple[str, str, int]]) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        for wid, queue, created in rows:
            conn.execute("INSERT INTO workflow_status (workflow_uuid, status, name, inputs, queue_name, "
                         "created_at, updated_at) VALUES (%s, 'ENQUEUED', 'f', 'i', %s, %s, %s)",
                         (wid, queue, created, created))


def _claim(n: int, queues: list[str] = QUEUES) -> list[str]:
    rows, parked = DBOS._rt().db.workflows.claim(queues, n, names=["f"], executor_id="e",
                                                 owner_instance="i")
    assert parked == []
    return sorted(r.workflow_id for r in rows)


def test_spread_claim_walks_queues_in_order_k_each_and_stops_at_n(launch: Any, pg_url: str, schema: str) -> None:
    assert len(QUEUES) > SPREAD_QUEUES
    launch()
    # queue s<i> holds rows created at (7 - i) * 10 + j: the later queues have the older rows
    _seed(pg_url, schema, [(f"{q}-{j}", q, (7 - i) * 10 + j) for i, q in enumerate(QUEUES) for j in range(5)])
    assert _claim(3) == ["s0-0", "s1-0", "s2-0"]  # in the order given, one row each
    assert _claim(4, QUEUES[3:] + QUEUES[:3]) == ["s3-0", "s4-0", "s5-0", "s6-0"]  # rotated
    # k = 2 from each: the next two of s0-s6, the first two of s7 (not reached before)
    assert _claim(16) == sorted([f"{q}-{j}" for q in QUEUES[:7] for j in (1, 2)] + ["s7-0", "s7-1"])
    pending = query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status WHERE status = 'PENDING'")
    assert pending == [{"n": 23}]


def test_spread_claim_walks_past_empty_queues(launch: Any, pg_url: str, schema: str) -> None:
    launch()
    _seed(pg_url, schema, [(f"a-{j}", "s1", j) for j in range(10)] + [(f"b-{j}", "s5", 100 + j) for j in range(3)])
    assert _claim(8) == ["a-0", "b-0"]  # k = 1 over 8 queues: two of them have work
    assert _claim(8, ["s1", "s5", "s0"]) == sorted(["a-1", "a-2", "a-3", "b-1", "b-2"])  # k = 3
    assert _claim(8, ["s1", "s5", "s0"]) == sorted(f"a-{j}" for j in range(4, 7))
    assert _claim(8, ["s0", "s1", "s2"]) == sorted(f"a-{j}" for j in range(7, 10))
    assert _claim(8) == []


def test_spread_claim_walks_past_rows_another_claimer_holds(launch: Any, pg_url: str, schema: str) -> None:
    launch()
    _seed(pg_url, schema, [(f"{q}-{j}", q, i * 10 + j) for i, q in enumerate(QUEUES[:2]) for j in range(4)])
    with psycopg.connect(pg_url) as holder:  # another claimer's transaction, not yet committed
        holder.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        holder.execute("SELECT 1 FROM workflow_status WHERE workflow_uuid IN ('s0-0', 's1-0') FOR UPDATE")
        assert _claim(4, QUEUES[:3]) == ["s0-1", "s0-2", "s1-1", "s1-2"]  # k = 2 over 3 queues
        holder.rollback()
    assert _claim(4, QUEUES[:3]) == ["s0-0", "s0-3", "s1-0", "s1-3"]


def test_few_queues_claim_n_from_one(launch: Any, pg_url: str, schema: str) -> None:
    launch()
    _seed(pg_url, schema, [(f"a-{j}", "s0", 2 * j) for j in range(10)] + [("b-0", "s1", 5)])
    assert _claim(6, QUEUES[:SPREAD_QUEUES]) == sorted(["a-0", "a-1", "a-2", "b-0", "a-3", "a-4"])
    assert _claim(6, QUEUES[:SPREAD_QUEUES]) == sorted(f"a-{j}" for j in range(5, 10))

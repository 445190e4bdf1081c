"""The claim over many queues (workflow_claim_batch with `spread`): it looks at each queue's
head without locks and claims from the queues whose heads come first, about n rows in all; it
takes the oldest heads first, walks past rows another claimer holds, and claims exactly what a
one-queue claim would when only one queue has work."""

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


def test_spread_claim_takes_oldest_heads_one_per_queue(launch: Any, pg_url: str, schema: str) -> None:
    assert len(QUEUES) > SPREAD_QUEUES
    launch()
    # queue s<i> holds rows created at i*10 + j: heads come in queue order
    _seed(pg_url, schema, [(f"{q}-{j}", q, i * 10 + j) for i, q in enumerate(QUEUES) for j in range(5)])
    assert _claim(3) == ["s0-0", "s1-0", "s2-0"]  # three heads, one row each
    assert _claim(4) == ["s0-1", "s1-1", "s2-1", "s3-0"]
    pending = query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status WHERE status = 'PENDING'")
    assert pending == [{"n": 7}]


def test_spread_claim_fills_n_from_few_queues_with_work(launch: Any, pg_url: str, schema: str) -> None:
    launch()
    _seed(pg_url, schema, [(f"a-{j}", "s1", j) for j in range(10)] + [(f"b-{j}", "s5", 100 + j) for j in range(3)])
    got = _claim(8)  # two queues with work: ceil(8 / 2) = 4 each
    assert got == sorted([f"a-{j}" for j in range(4)] + ["b-0", "b-1", "b-2"])
    got = _claim(8)  # only s1 left: all 6 of its rows
    assert got == sorted(f"a-{j}" for j in range(4, 10))
    assert _claim(8) == []


def test_spread_claim_walks_past_rows_another_claimer_holds(launch: Any, pg_url: str, schema: str) -> None:
    launch()
    _seed(pg_url, schema, [(f"{q}-{j}", q, i * 10 + j) for i, q in enumerate(QUEUES[:2]) for j in range(4)])
    with psycopg.connect(pg_url) as holder:  # another claimer's transaction, not yet committed
        holder.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        holder.execute("SELECT 1 FROM workflow_status WHERE workflow_uuid IN ('s0-0', 's1-0') FOR UPDATE")
        assert _claim(4) == ["s0-1", "s0-2", "s1-1", "s1-2"]
        holder.rollback()
    assert _claim(4) == ["s0-0", "s0-3", "s1-0", "s1-3"]


def test_few_queues_claim_n_from_one(launch: Any, pg_url: str, schema: str) -> None:
    launch()
    _seed(pg_url, schema, [(f"a-{j}", "s0", 2 * j) for j in range(10)] + [("b-0", "s1", 5)])
    assert _claim(6, QUEUES[:SPREAD_QUEUES]) == sorted(["a-0", "a-1", "a-2", "b-0", "a-3", "a-4"])
    assert _claim(6, QUEUES[:SPREAD_QUEUES]) == sorted(f"a-{j}" for j in range(5, 10))

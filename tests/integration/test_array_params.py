"""Array parameters rendered by db/arrays.py reach Postgres as the same values psycopg would
send, through the casts and `= ANY(...)` the named queries use; a workflow whose id, name and
inputs carry quotes, backslashes, braces and NULL-like text enqueues and runs intact."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from dbos_workers import DBOS, Queue
from dbos_workers.bulk import EnqueueItem
from dbos_workers.db.arrays import bind, literal
from tests.helpers import query

AWKWARD = ['a b', None, 'x\\"y', "NULL", "", "{,}", "ü'\n\t", '"', "\\", "null", " lead", "trail "]


@pytest.mark.parametrize("cast, values", [
    ("TEXT[]", AWKWARD), ("BIGINT[]", [1, None, -5, 2**62]), ("INTEGER[]", [0, 7]),
    ("BOOLEAN[]", [True, False, None]), ("TEXT[]", []),
])
def test_literals_round_trip_through_their_casts(pg_url: str, cast: str, values: list[Any]) -> None:
    rendered = literal(values)
    assert rendered is not None
    with psycopg.connect(pg_url, autocommit=True) as conn:
        plain = conn.execute(f"SELECT %s::{cast}".encode(), [values]).fetchone()
        ours = conn.execute(f"SELECT %s::{cast}".encode(), [rendered]).fetchone()
        any_hit = conn.execute("SELECT %s = ANY(%s)", ["x\\\"y", literal(AWKWARD)]).fetchone()
    assert plain is not None and ours is not None and any_hit is not None
    assert ours[0] == plain[0] == values
    assert any_hit[0] is True


def test_lists_of_other_types_are_left_to_psycopg() -> None:
    assert literal([1.5]) is None and literal([b"x"]) is None and literal([["a"]]) is None
    params = {"a": [1.5], "b": ["x"], "c": 3}
    bound = bind(params)
    assert bound == {"a": [1.5], "b": '{"x"}', "c": 3} and params["b"] == ["x"]
    same = {"c": 3}
    assert bind(same) is same


def test_awkward_text_survives_enqueue_and_run(launch: Any, pg_url: str, schema: str) -> None:
    q = Queue("arrays_q")

    @DBOS.workflow()
    def echo(text: str) -> str:
        return text + "!"

    launch(worker_processes=1)
    ids = [f'id-{i}-{t}' for i, t in enumerate(AWKWARD) if t is not None]
    texts = [t for t in AWKWARD if t is not None]
    handles = q.enqueue_many(echo, [EnqueueItem(args=(t,), workflow_id=wid) for wid, t in zip(ids, texts, strict=True)])
    handles += [q.enqueue(echo, t) for t in texts]
    want = [t + "!" for t in texts] * 2
    assert [h.get_result(timeout=60) for h in handles] == want
    rows = query(pg_url, schema, "SELECT workflow_uuid FROM workflow_status WHERE workflow_uuid = ANY(%s)", ids)
    assert sorted(r["workflow_uuid"] for r in rows) == sorted(ids)

"""Every list_workflows / list_queued_workflows / list_workflow_steps filter DBOS 3.4
documents: exact rows AND order on a seeded table (statuses, names, queues, times, lineage),
and a typed error for the ones dbos-workers cannot honour."""

from __future__ import annotations

import datetime
import json
from typing import Any

import psycopg
import pytest
from psycopg import sql

from dbos_workers import DBOS
from dbos_workers.errors import DBOSUnsupportedFilterError

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000  # epoch ms of row w01; row k is created k minutes later
MIN = 60_000
# id, status, name, queue, executor, app_version, parent, forked_from, was_forked, user,
# attributes, application, started (dequeued) offset min, completed offset min
ROWS: list[tuple[Any, ...]] = [
    ("w01", "SUCCESS", "alpha", None, "ex-a", "v1", None, None, True, "ann", {"team": "red"}, "app1", None, 1),
    ("w02", "ERROR", "beta", "q1", "ex-a", "v1", None, None, False, None, None, "app1", 2, 3),
    ("w03", "ENQUEUED", "alpha", "q1", None, "v2", None, None, False, "bob", {"team": "blue"}, "app1", None, None),
    ("w04", "PENDING", "gamma", "q2", "ex-b", "v2", "w01", None, False, None, None, "app2", 4, None),
    ("w05", "DELAYED", "beta", "q2", None, "v2", None, None, False, None, None, "app1", None, None),
    ("w06", "CANCELLED", "alpha", "q1", "ex-b", "v1", "w01", None, False, "ann", None, "app1", 6, 7),
    ("w07", "SUCCESS", "alpha", None, "ex-a", "v3", None, "w01", False, None, {"team": "red", "x": 1}, "app1", None, 9),
    ("x08", "ENQUEUED", "gamma", "q2", None, "v3", None, "w01", False, None, None, "app2", None, None),
    ("x09", "MAX_RECOVERY_ATTEMPTS_EXCEEDED", "beta", "q1", "ex-b", "v3", None, None, False, None, None, "app1", 9, 10),
    ("x10", "PENDING", "alpha", None, "ex-a", "v1", "w04", None, False, "bob", None, "app1", 10, None),
]
ALL = [r[0] for r in ROWS]


def _iso(offset_min: float) -> str:
    return datetime.datetime.fromtimestamp((T0 + offset_min * MIN) / 1000, datetime.UTC).isoformat()


def _seed(url: str, schema: str) -> None:
    rt = DBOS._rt()
    inputs = rt.serializer.serialize({"args": (1,), "kwargs": {}})
    output = rt.serializer.serialize("out")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        for k, (wid, status, name, queue, ex, ver, parent, fork, was, user, attrs, app, started,
                completed) in enumerate(ROWS, start=1):
            created = T0 + (k - 1) * MIN
            conn.execute(
                """INSERT INTO workflow_status (workflow_uuid, status, name, queue_name, executor_id,
                   application_version, parent_workflow_id, forked_from, was_forked_from,
                   authenticated_user, attributes, application_name, started_at_epoch_ms,
                   completed_at, inputs, output, created_at, updated_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (wid, status, name, queue, ex, ver, parent, fork, was, user,
                 None if attrs is None else json.dumps(attrs), app,
                 None if started is None else T0 + started * MIN,
                 None if completed is None else T0 + completed * MIN,
                 inputs, output if status == "SUCCESS" else None, created, created))
        for fid in (1, 2, 3):
            conn.execute("""INSERT INTO operation_outputs (workflow_uuid, function_id, function_name,
                            output, completed_at_epoch_ms) VALUES ('w01', %s, %s, %s, 1)""",
                         (fid, f"s{fid}", rt.serializer.serialize(fid * 10)))


@pytest.fixture
def seeded(launch: Any, pg_url: str, schema: str) -> type[DBOS]:
    dbos: type[DBOS] = launch()
    _seed(pg_url, schema)
    return dbos


CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ALL),
    ({"workflow_ids": ["x09", "w02", "nope"]}, ["w02", "x09"]),
    ({"status": "ENQUEUED"}, ["w03", "x08"]),
    ({"status": ["SUCCESS", "ERROR"]}, ["w01", "w02", "w07"]),
    ({"start_time": _iso(5)}, ["w06", "w07", "x08", "x09", "x10"]),
    ({"end_time": _iso(2)}, ["w01", "w02", "w03"]),
    ({"start_time": _iso(2), "end_time": _iso(4)}, ["w03", "w04", "w05"]),
    ({"start_time": "2099-01-01T00:00:00+00:00"}, []),
    ({"completed_after": _iso(7)}, ["w06", "w07", "x09"]),
    ({"completed_before": _iso(3)}, ["w01", "w02"]),
    ({"dequeued_after": _iso(6)}, ["w06", "x09", "x10"]),
    ({"dequeued_before": _iso(4)}, ["w02", "w04"]),
    ({"name": "beta"}, ["w02", "w05", "x09"]),
    ({"name": ["gamma", "beta"]}, ["w02", "w04", "w05", "x08", "x09"]),
    ({"app_version": "v3"}, ["w07", "x08", "x09"]),
    ({"app_version": ["v1", "v3"]}, ["w01", "w02", "w06", "w07", "x08", "x09", "x10"]),
    ({"forked_from": "w01"}, ["w07", "x08"]),
    ({"parent_workflow_id": ["w01"]}, ["w04", "w06"]),
    ({"parent_workflow_id": ["w01", "w04"]}, ["w04", "w06", "x10"]),
    ({"user": "ann"}, ["w01", "w06"]),
    ({"user": ["ann", "bob"]}, ["w01", "w03", "w06", "x10"]),
    ({"queue_name": "q2"}, ["w04", "w05", "x08"]),
    ({"queue_name": ["q1"], "status": "ENQUEUED"}, ["w03"]),
    ({"limit": 3}, ["w01", "w02", "w03"]),
    ({"offset": 8}, ["x09", "x10"]),
    ({"offset": 1000}, []),
    ({"limit": 2, "offset": 3}, ["w04", "w05"]),
    ({"sort_desc": True}, list(reversed(ALL))),
    ({"sort_desc": True, "limit": 3}, ["x10", "x09", "x08"]),
    ({"sort_desc": True, "limit": 2, "offset": 2}, ["x08", "w07"]),
    ({"workflow_id_prefix": "x"}, ["x08", "x09", "x10"]),
    ({"workflow_id_prefix": ["x1", "w0"]}, ["w01", "w02", "w03", "w04", "w05", "w06", "w07", "x10"]),
    ({"workflow_id_prefix": "w_"}, []),  # LIKE wildcards are literal, as DBOS's autoescape
    ({"executor_id": "ex-b"}, ["w04", "w06", "x09"]),
    ({"executor_id": ["ex-a", "ex-b"], "status": "PENDING"}, ["w04", "x10"]),
    ({"queues_only": True}, ["w03", "w04", "w05", "x08"]),
    ({"queues_only": True, "status": ["ERROR", "CANCELLED"]}, ["w02", "w06"]),
    ({"was_forked_from": True}, ["w01"]),
    ({"was_forked_from": False, "name": "alpha"}, ["w03", "w06", "w07", "x10"]),
    ({"is_fork": True}, ["w07", "x08"]),
    ({"is_fork": False, "queue_name": "q2"}, ["w04", "w05"]),
    ({"has_parent": True}, ["w04", "w06", "x10"]),
    ({"has_parent": False, "status": "PENDING"}, []),
    ({"attributes": {"team": "red"}}, ["w01", "w07"]),
    ({"attributes": {"team": "red", "x": 1}}, ["w07"]),
    ({"application_name": "app2"}, ["w04", "x08"]),
    ({"application_name": ["app1"], "queue_name": "q2"}, ["w05"]),
]


@pytest.mark.parametrize(("filters", "expected"), CASES, ids=[json.dumps(c[0], default=str) for c in CASES])
def test_list_workflows_filter(seeded: type[DBOS], filters: dict[str, Any], expected: list[str]) -> None:
    assert [s.workflow_id for s in seeded.list_workflows(**filters)] == expected


QUEUED: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ["w03", "w04", "w05", "x08"]),
    ({"queue_name": "q2", "sort_desc": True}, ["x08", "w05", "w04"]),
    ({"status": "ENQUEUED"}, ["w03", "x08"]),
    ({"status": "ERROR"}, ["w02"]),
    ({"name": "gamma", "limit": 1}, ["w04"]),
    ({"is_fork": True}, ["x08"]),
    ({"start_time": _iso(3), "offset": 1}, ["w05", "x08"]),
    ({"executor_id": "ex-b"}, ["w04"]),
]


@pytest.mark.parametrize(("filters", "expected"), QUEUED, ids=[json.dumps(c[0]) for c in QUEUED])
def test_list_queued_workflows_filter(seeded: type[DBOS], filters: dict[str, Any], expected: list[str]) -> None:
    assert [s.workflow_id for s in seeded.list_queued_workflows(**filters)] == expected


def test_load_input_and_output(seeded: type[DBOS]) -> None:
    full = seeded.list_workflows(workflow_ids=["w01"])[0]
    assert (full.input, full.output, full.forked_from, full.was_forked_from) == (
        {"args": (1,), "kwargs": {}}, "out", None, True)
    bare = seeded.list_workflows(workflow_ids=["w01"], load_input=False, load_output=False)[0]
    assert (bare.input, bare.output, bare.name) == (None, None, "alpha")
    fork = seeded.list_workflows(workflow_ids=["w07"], load_input=False)[0]
    assert (fork.input, fork.output, fork.forked_from) == (None, "out", "w01")


@pytest.mark.parametrize("parameter", ["schedule_name", "shard_key", "parent_shard_key"])
def test_unsupported_filter_is_a_typed_error_naming_it(seeded: type[DBOS], parameter: str) -> None:
    with pytest.raises(DBOSUnsupportedFilterError) as info:
        seeded.list_workflows(**{parameter: "x"})
    assert info.value.parameter == parameter and parameter in str(info.value)


def test_bad_values_and_unknown_filters_are_refused(seeded: type[DBOS]) -> None:
    with pytest.raises(DBOSUnsupportedFilterError, match="start_time"):
        seeded.list_workflows(start_time="yesterday")
    with pytest.raises(DBOSUnsupportedFilterError, match="offset"):
        seeded.list_workflows(offset=-1)
    with pytest.raises(TypeError, match="no_such_filter"):
        seeded.list_workflows(no_such_filter=1)
    with pytest.raises(TypeError, match="queues_only"):
        seeded.list_queued_workflows(queues_only=False)


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, [(1, "s1", 10), (2, "s2", 20), (3, "s3", 30)]),
    ({"limit": 2}, [(1, "s1", 10), (2, "s2", 20)]),
    ({"offset": 1}, [(2, "s2", 20), (3, "s3", 30)]),
    ({"offset": 1, "limit": 1}, [(2, "s2", 20)]),
    ({"load_output": False}, [(1, "s1", None), (2, "s2", None), (3, "s3", None)]),
])
def test_list_workflow_steps_filter(seeded: type[DBOS], kwargs: dict[str, Any],
                                    expected: list[tuple[int, str, Any]]) -> None:
    steps = seeded.list_workflow_steps("w01", **kwargs)
    assert [(s["function_id"], s["function_name"], s["output"]) for s in steps] == expected


@pytest.mark.slow
def test_newest_page_walks_the_created_at_index(pg_url: str, schema: str) -> None:
    """The newest 50 come off workflow_status_created_order in order (no Sort, no Seq Scan),
    as AdminStore.search plans it (custom plans); measured at 10M rows in docs/client-cli.md."""
    from dbos_workers.db import migrate
    from dbos_workers.db.admin import WorkflowFilter
    from dbos_workers.db.queries import load_queries

    migrate.migrate(pg_url, schema)
    params: dict[str, Any] = {k: v for k, v in WorkflowFilter(limit=50).__dict__.items() if k != "sort_desc"}
    plans = {}
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute("""INSERT INTO workflow_status (workflow_uuid, status, name, inputs, queue_name,
                        created_at, updated_at)
                        SELECT 'w-' || g, (ARRAY['SUCCESS','ERROR','ENQUEUED'])[1 + g % 3], 'f' || (g % 7),
                               'i', 'q', g, g FROM generate_series(1, 200000) AS g""")
        conn.execute("ANALYZE workflow_status")
        conn.execute("SET plan_cache_mode = force_custom_plan")
        for label, name, extra in (("newest", "workflow_search_desc", {}),
                                   ("oldest", "workflow_search_asc", {}),
                                   ("newest errors", "workflow_search_desc", {"statuses": ["ERROR"]}),
                                   ("newest of a name", "workflow_search_desc", {"names": ["f3"]})):
            rows = conn.execute(("EXPLAIN " + load_queries()[name]).encode(), {**params, **extra}).fetchall()
            plans[label] = "\n".join(r[0] for r in rows)
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    for label, plan in plans.items():
        assert "workflow_status_created_order" in plan, (label, plan)
        assert "Sort" not in plan and "Seq Scan" not in plan, (label, plan)

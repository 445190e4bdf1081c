"""Transactions on the application database against a real Postgres: the function's effects
and its checkpoint commit together, replay without re-running (from the system database, or
from the application database when the system record is lost), isolation levels, a real
serialization failure retried, errors recorded and raised again, the 2.x form, the default
application database, and a queued workflow's transaction in a forked worker process."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError

from dbos_workers import DBOS, Queue, SetWorkflowID
from dbos_workers.datasource import AsyncSQLAlchemyDatasource, SQLAlchemyDatasource
from dbos_workers.datasource.resolve import with_database
from dbos_workers.errors import DBOSNotInTransactionError
from tests.helpers import query

pytestmark = pytest.mark.integration


@pytest.fixture
def ds(pg_url: str, schema: str) -> Iterator[SQLAlchemyDatasource]:
    """A datasource on the test database whose checkpoint table sits in this test's schema,
    with a user table `orders` (no key: a second insert would show as a second row)."""
    source = SQLAlchemyDatasource.create(pg_url, schema=schema)
    with source.engine.begin() as conn:
        conn.execute(sa.text(f'CREATE TABLE "{schema}".orders (order_id INT, note TEXT)'))
    yield source
    source.close()


def orders(pg_url: str, schema: str) -> list[tuple[int, str]]:
    return [(r["order_id"], r["note"]) for r in
            query(pg_url, schema, "SELECT order_id, note FROM orders ORDER BY order_id, note")]


def checkpoints(pg_url: str, schema: str, wfid: str) -> list[dict[str, Any]]:
    return query(pg_url, schema, "SELECT step_id, function_name, output IS NOT NULL AS has_output, "
                 "error IS NOT NULL AS has_error FROM datasource_outputs WHERE workflow_id = %s "
                 "ORDER BY step_id", wfid)


def forget_system_records(pg_url: str, schema: str, wfid: str) -> None:
    """The crash window: the system database never heard of the workflow's operations."""
    query(pg_url, schema, "DELETE FROM workflow_status WHERE workflow_uuid = %s", wfid)


def test_transactions_commit_with_their_checkpoints_and_replay_without_running(
        launch: Any, ds: SQLAlchemyDatasource, pg_url: str, schema: str) -> None:
    calls: list[int] = []

    @ds.transaction()
    def place(order_id: int) -> str:
        calls.append(order_id)
        ds.sql_session().execute(sa.text(f'INSERT INTO "{schema}".orders VALUES (:id, :note)'),
                                 {"id": order_id, "note": f"wf {DBOS.workflow_id} step {DBOS.step_id}"})
        return f"placed-{order_id}"

    @ds.transaction(name="count_orders", isolation_level="READ COMMITTED")
    def count() -> int:
        return int(ds.sql_session().execute(sa.text(f'SELECT count(*) FROM "{schema}".orders')).scalar_one())

    @DBOS.workflow()
    def checkout(order_id: int) -> list[Any]:
        return [place(order_id), place(order_id + 1), count()]

    launch()
    with SetWorkflowID("tx-1"):
        assert checkout(7) == ["placed-7", "placed-8", 2]
    assert orders(pg_url, schema) == [(7, "wf tx-1 step 1"), (8, "wf tx-1 step 2")]
    steps = DBOS.list_workflow_steps("tx-1")
    assert [(s["function_id"], s["function_name"], s["output"]) for s in steps] == [
        (1, place.__qualname__, "placed-7"), (2, place.__qualname__, "placed-8"), (3, "count_orders", 2)]
    assert checkpoints(pg_url, schema, "tx-1") == [
        {"step_id": 1, "function_name": place.__qualname__, "has_output": True, "has_error": False},
        {"step_id": 2, "function_name": place.__qualname__, "has_output": True, "has_error": False},
        {"step_id": 3, "function_name": "count_orders", "has_output": True, "has_error": False}]

    forget_system_records(pg_url, schema, "tx-1")
    with SetWorkflowID("tx-1"):
        assert checkout(7) == ["placed-7", "placed-8", 2]  # replayed from the application database
    assert calls == [7, 8]
    assert orders(pg_url, schema) == [(7, "wf tx-1 step 1"), (8, "wf tx-1 step 2")]
    assert [s["output"] for s in DBOS.list_workflow_steps("tx-1")] == ["placed-7", "placed-8", 2]


def test_errors_roll_back_are_recorded_and_raise_again_on_replay(
        launch: Any, ds: SQLAlchemyDatasource, pg_url: str, schema: str) -> None:
    calls: list[str] = []

    @ds.transaction()
    def fail(kind: str) -> str:
        calls.append(kind)
        session = ds.sql_session()
        session.execute(sa.text(f'INSERT INTO "{schema}".orders VALUES (1, :kind)'), {"kind": kind})
        if kind == "sql":
            session.execute(sa.text("selct 1"))
        raise ValueError(f"refused {kind}")

    @DBOS.workflow()
    def flow(kind: str) -> str:
        return fail(kind)

    launch()
    for kind, error, match in (("python", ValueError, "refused python"), ("sql", ProgrammingError, "selct")):
        wfid = f"err-{kind}"
        with SetWorkflowID(wfid), pytest.raises(error, match=match):
            flow(kind)
        assert checkpoints(pg_url, schema, wfid) == [
            {"step_id": 1, "function_name": fail.__qualname__, "has_output": False, "has_error": True}]
        [step] = DBOS.list_workflow_steps(wfid)
        assert isinstance(step["error"], error) and step["output"] is None
        forget_system_records(pg_url, schema, wfid)
        with SetWorkflowID(wfid), pytest.raises(error, match=match):
            flow(kind)  # the recorded error, without running the function again
    assert calls == ["python", "sql"]
    assert orders(pg_url, schema) == []  # both rolled back


def test_a_real_serialization_failure_is_retried(launch: Any, ds: SQLAlchemyDatasource,
                                                 pg_url: str, schema: str) -> None:
    """Two SERIALIZABLE transactions read the same counter, then both update it: the second
    fails with SQLSTATE 40001 and runs again, reading the first one's commit."""
    with ds.engine.begin() as conn:
        conn.execute(sa.text(f'INSERT INTO "{schema}".orders VALUES (0, :note)'), {"note": "counter"})
    both_read = threading.Barrier(2, timeout=10)
    attempts: dict[str, int] = {}

    @ds.transaction()
    def bump() -> int:
        wfid = str(DBOS.workflow_id)
        attempts[wfid] = attempts.get(wfid, 0) + 1
        session = ds.sql_session()
        value = session.execute(sa.text(f'SELECT order_id FROM "{schema}".orders')).scalar_one()
        if attempts[wfid] == 1:
            both_read.wait()
        session.execute(sa.text(f'UPDATE "{schema}".orders SET order_id = :v'), {"v": value + 1})
        return int(value) + 1

    @DBOS.workflow()
    def flow() -> int:
        return bump()

    launch()
    handles = []
    for k in range(2):
        with SetWorkflowID(f"ser-{k}"):
            handles.append(DBOS.start_workflow(flow))
    assert sorted(h.get_result() for h in handles) == [1, 2]
    assert orders(pg_url, schema) == [(2, "counter")]
    assert sorted(attempts.values()) == [1, 2]  # the loser ran once more, nobody recorded an error
    for k in range(2):
        assert checkpoints(pg_url, schema, f"ser-{k}")[0]["has_error"] is False


def test_isolation_level_and_session_scope(launch: Any, ds: SQLAlchemyDatasource) -> None:
    def level() -> str:
        return str(ds.sql_session().execute(sa.text("SHOW transaction_isolation")).scalar_one())

    levels = [ds.transaction(isolation_level=lvl, name=f"level-{lvl}")(level)  # type: ignore[arg-type]
              for lvl in ("SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED")]

    @DBOS.workflow()
    def flow() -> list[str]:
        return [f() for f in levels]

    launch()
    assert flow() == ["serializable", "repeatable read", "read committed"]
    assert levels[2]() == "read committed"  # outside a workflow: a plain transaction
    with pytest.raises(DBOSNotInTransactionError):
        ds.sql_session()


def test_outside_a_workflow_a_transaction_checkpoints_nothing(
        launch: Any, ds: SQLAlchemyDatasource, pg_url: str, schema: str) -> None:
    @ds.transaction()
    def add(order_id: int) -> int:
        ds.sql_session().execute(sa.text(f'INSERT INTO "{schema}".orders VALUES (:id, :n)'),
                                 {"id": order_id, "n": "plain"})
        return order_id

    launch()
    assert add(1) == 1 and add(1) == 1
    assert orders(pg_url, schema) == [(1, "plain"), (1, "plain")]
    assert query(pg_url, schema, "SELECT count(*) AS n FROM datasource_outputs") == [{"n": 0}]


def test_2x_form_on_the_configured_application_database(launch: Any, pg_url: str, recwarn: Any) -> None:
    app_url = with_database(pg_url, "dbos_workers_test_app")

    @DBOS.transaction()
    def where() -> str:
        return str(DBOS.sql_session.execute(sa.text("SELECT current_database()")).scalar_one())

    @DBOS.workflow()
    def flow() -> str:
        return where()

    launch(application_database_url=app_url)
    assert not [w for w in recwarn if "application_database_url" in str(w.message)]
    with SetWorkflowID("tx-2x"):
        assert flow() == "dbos_workers_test_app"  # created at first use
    rows = query(app_url, "dbos", "SELECT function_name FROM datasource_outputs WHERE workflow_id = 'tx-2x'")
    assert rows == [{"function_name": where.__qualname__}]


def test_default_application_database_is_the_system_database(launch: Any, pg_url: str,
                                                             schema: str) -> None:
    """With a system database URL and no application database URL."""
    ds = SQLAlchemyDatasource.create(schema=schema)  # resolved at first use

    @ds.transaction()
    def where() -> str:
        return str(ds.sql_session().execute(sa.text("SELECT current_database()")).scalar_one())

    @DBOS.workflow()
    def flow() -> str:
        return where()

    launch()
    with SetWorkflowID("tx-default"):
        assert flow() == urlsplit(pg_url).path.strip("/")
    assert [r["step_id"] for r in checkpoints(pg_url, schema, "tx-default")] == [1]
    ds.close()


def test_a_queued_workflow_runs_its_transaction_in_a_worker(
        launch: Any, ds: SQLAlchemyDatasource, pg_url: str, schema: str) -> None:
    """The app process used the datasource before launch (its pool holds a connection when the
    workers fork); a worker makes its own engine, and the app's connection still works."""

    def backend() -> int:
        return int(ds.sql_session().execute(sa.text("SELECT pg_backend_pid()")).scalar_one())

    app_backend = ds.transaction(name="backend")(backend)

    @ds.transaction()
    def place(order_id: int) -> dict[str, int]:
        ds.sql_session().execute(sa.text(f'INSERT INTO "{schema}".orders VALUES (:id, :n)'),
                                 {"id": order_id, "n": f"pid {os.getpid()}"})
        return {"pid": os.getpid(), "backend": backend()}

    @DBOS.workflow()
    def flow(order_id: int) -> dict[str, int]:
        return place(order_id)

    queue = Queue("tx_orders")
    before = app_backend()
    launch(worker_processes=1)
    with SetWorkflowID("tx-queued"):
        got = queue.enqueue(flow, 5).get_result(timeout=30)
    assert got["pid"] != os.getpid() and got["backend"] != before
    assert orders(pg_url, schema) == [(5, f"pid {got['pid']}")]
    assert [r["function_name"] for r in query(pg_url, schema, "SELECT function_name FROM "
            "operation_outputs WHERE workflow_uuid = 'tx-queued'")] == [place.__qualname__]
    assert app_backend() == before  # the app process's pooled connection was not touched


def test_async_datasource_from_sync_workflow(launch: Any, pg_url: str, schema: str) -> None:
    ads = asyncio.run(AsyncSQLAlchemyDatasource.create(pg_url, schema=schema))
    calls: list[int] = []

    @ads.transaction()
    async def add(order_id: int) -> int:
        calls.append(order_id)
        session = ads.sql_session()
        await session.execute(sa.text(f'CREATE TABLE IF NOT EXISTS "{schema}".aorders (id INT)'))
        await session.execute(sa.text(f'INSERT INTO "{schema}".aorders VALUES (:id)'), {"id": order_id})
        return order_id * 2

    @DBOS.workflow()
    def flow(order_id: int) -> int:
        return asyncio.run(add(order_id))

    launch()
    with SetWorkflowID("tx-async"):
        assert flow(4) == 8
    forget_system_records(pg_url, schema, "tx-async")
    with SetWorkflowID("tx-async"):
        assert flow(4) == 8
    assert calls == [4]
    assert query(pg_url, schema, "SELECT id FROM aorders") == [{"id": 4}]
    assert asyncio.run(add(9)) == 18  # outside a workflow
    ads.close()


def test_retention_forgets_the_transaction_checkpoints_of_pruned_workflows(
        launch: Any, ds: SQLAlchemyDatasource, pg_url: str, schema: str) -> None:
    """Else a workflow id started again after its prune would replay an old output."""
    import time

    from dbos_workers.leader.maintenance import Maintenance

    @ds.transaction()
    def stamp(x: int) -> int:
        return x

    @DBOS.workflow()
    def flow(x: int) -> int:
        return stamp(x)

    dbos = launch(workflow_retention_sec=3600)
    for k in range(2):
        with SetWorkflowID(f"ret-{k}"):
            flow(k)
    query(pg_url, schema, "UPDATE workflow_status SET completed_at = %s WHERE workflow_uuid = 'ret-0'",
          int(time.time() * 1000) - 2 * 3600 * 1000)
    assert Maintenance(dbos._rt()).prune(int(time.time() * 1000)) == 1
    assert query(pg_url, schema, "SELECT workflow_id FROM datasource_outputs ORDER BY 1") == [
        {"workflow_id": "ret-1"}]
    with SetWorkflowID("ret-0"):
        assert flow(5) == 5  # a new workflow under the old id runs its transaction afresh


def test_embedded_default_is_a_database_on_the_same_server(pg_url: str, schema: str) -> None:
    """No system database URL (the embedded Postgres; the test server is one): `<name>_app`
    on the same server, created at first use."""
    from dbos_workers.config import build_settings
    from dbos_workers.datasource.resolve import application_url, driver_url, prepare_database

    url = driver_url(application_url(build_settings({"name": "tx-embedded"}), pg_url))
    assert urlsplit(url).path == "/tx_embedded_app" and urlsplit(url).query == urlsplit(pg_url).query
    prepare_database(url)
    ds = SQLAlchemyDatasource.create(url, schema=schema)
    where = ds.transaction()(lambda: ds.sql_session().execute(sa.text("SELECT current_database()")).scalar_one())
    assert where() == "tx_embedded_app"
    ds.close()

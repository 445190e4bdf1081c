"""After its lease lapsed (a host cut off for longer than `executor_lease_sec`), an execution
renews the lease and re-reads its row before its next step, and stops there when the leader
took the work back meanwhile; a renewal and the leader's sweep cannot cross (lease.py).
Found by the randomized fault schedule: the first step after a heal ran on work the leader was
just taking back, and ran again on the re-claim."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from dbos_workers import DBOS
from dbos_workers.db.queries import load_queries
from dbos_workers.registry import INTERNAL_QUEUE
from tests.helpers import query, wait_until

pytestmark = pytest.mark.integration


def _lapse(pg_url: str, schema: str, instance_id: str, workflow_id: str | None = None) -> None:
    """Make the database see this holder silent for a minute (its heartbeat stopped first),
    and the workflow claimed as long ago."""
    query(pg_url, schema, "UPDATE executors SET heartbeat_at = heartbeat_at - 60000 "
          "WHERE instance_id = %s", instance_id)
    if workflow_id is not None:
        query(pg_url, schema, "UPDATE workflow_status SET updated_at = updated_at - 60000 "
              "WHERE workflow_uuid = %s", workflow_id)


def test_step_after_a_lapse_does_not_run_on_work_taken_back(launch: Any, pg_url: str, schema: str) -> None:
    ran: list[str] = []
    between = threading.Event()
    go_on = threading.Event()

    @DBOS.step()
    def first() -> str:
        ran.append("first")
        return "a"

    @DBOS.step()
    def second() -> str:
        ran.append("second")
        return "b"

    @DBOS.workflow()
    def two_steps() -> str:
        a = first()
        DBOS.set_event("first", a)  # writes first's checkpoint while the work is still ours
        between.set()
        go_on.wait(30)  # the host is "cut off" here, between its steps
        return a + second()

    launch(worker_processes=0, executor_lease_sec=1)
    rt = DBOS._rt()
    DBOS._get().lifecycle._lease.stop()  # type: ignore[union-attr]  # the partition: no renewals
    handle = DBOS.start_workflow(two_steps)
    assert between.wait(10)
    wait_until(lambda: not rt.lease.fresh(), 10)  # the lease is no longer surely held here
    _lapse(pg_url, schema, rt.instance_id, handle.workflow_id)
    assert rt.db.maintenance.recover_expired(1000, 10, INTERNAL_QUEUE) == 1  # the leader took it
    go_on.set()
    wait_until(lambda: rt.inflight.context(handle.workflow_id) is None, 10)
    assert ran == ["first"], "the step ran on work the leader had taken back"
    [row] = query(pg_url, schema, "SELECT status, owner_token FROM workflow_status WHERE workflow_uuid = %s",
                  handle.workflow_id)
    assert (row["status"], row["owner_token"]) == ("ENQUEUED", None)
    steps = query(pg_url, schema, "SELECT function_name FROM operation_outputs WHERE workflow_uuid = %s",
                  handle.workflow_id)
    assert [s["function_name"] for s in steps] == [first.__qualname__, "DBOS.setEvent"]


def test_step_after_a_lapse_runs_when_the_work_is_still_ours(launch: Any, pg_url: str, schema: str) -> None:
    between, go_on = threading.Event(), threading.Event()

    @DBOS.step()
    def double(x: int) -> int:
        return 2 * x

    @DBOS.workflow()
    def twice(x: int) -> int:
        y = double(x)
        between.set()
        go_on.wait(30)
        return double(y)

    launch(worker_processes=0, executor_lease_sec=1)
    rt = DBOS._rt()
    DBOS._get().lifecycle._lease.stop()  # type: ignore[union-attr]
    handle = DBOS.start_workflow(twice, 5)
    assert between.wait(10)
    wait_until(lambda: not rt.lease.fresh(), 10)
    lapse_before = rt.lease.lapse_ended
    go_on.set()  # nobody took it: the next step renews the lease, re-reads the row, runs
    assert handle.get_result(timeout=10) == 20
    assert rt.lease.lapse_ended > lapse_before and rt.lease.fresh()


def test_the_sweep_holds_the_silent_holders_row_until_its_requeue_commits(
        launch: Any, pg_url: str, schema: str) -> None:
    launch(worker_processes=0, executor_lease_sec=1)
    rt = DBOS._rt()
    DBOS._get().lifecycle._lease.stop()  # type: ignore[union-attr]
    query(pg_url, schema, "INSERT INTO workflow_status (workflow_uuid, status, name, inputs, queue_name, "
          "executor_id, owner_token, owner_instance, recovery_attempts, created_at, updated_at) "
          "VALUES ('held', 'PENDING', 'w', '', 'q', 'x', 'tok', %s, 1, 0, 0)", rt.instance_id)
    _lapse(pg_url, schema, rt.instance_id)
    sweep = load_queries()["maintenance_recover_expired"]
    with psycopg.connect(pg_url) as conn:  # the sweep's statement, its commit held back
        conn.execute(psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(schema)))
        rows = conn.execute(sweep.encode(), {"lease_ms": 1000, "n": 10, "default_queue": "q",
                                             "now_ms": 1, "channel": "c"}).fetchall()
        assert [int(r[2]) for r in rows] == [1]
        # until the sweep commits, the holder's renewal cannot land
        with psycopg.connect(pg_url, autocommit=True) as other, \
                pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("SET lock_timeout = '100ms'")
            other.execute(psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(schema)))
            other.execute("UPDATE executors SET heartbeat_at = db_now_ms() WHERE instance_id = %s",
                          (rt.instance_id,))
        conn.rollback()
    rt.heartbeat()  # the renewal lands first: the sweep now leaves this holder alone
    assert rt.db.maintenance.recover_expired(1000, 10, "q") == 0
    [row] = query(pg_url, schema, "SELECT status FROM workflow_status WHERE workflow_uuid = 'held'")
    assert row["status"] == "PENDING"


def test_a_row_started_here_is_in_the_ledger_from_its_insert_on(launch: Any, pg_url: str, schema: str) -> None:
    """The orphan sweep hands back rows this instance holds that the ledger does not list: a
    row started here is listed from the moment its insert commits, not only once its thread
    picks it up (until then the sweep could take it and it would run twice)."""
    from dbos_workers import workflow as wf
    from dbos_workers.registry import info_of

    @DBOS.workflow()
    def started(x: int) -> int:
        return x

    launch(worker_processes=0)
    rt = DBOS._rt()
    handle, ctx = wf.start(rt, info_of(started), (3,), {}, wf.Placement("pool"))
    assert ctx is not None
    [row] = query(pg_url, schema, "SELECT status, owner_instance FROM workflow_status WHERE workflow_uuid = %s",
                  handle.workflow_id)
    assert (row["status"], row["owner_instance"]) == ("PENDING", rt.instance_id)
    assert handle.workflow_id in rt.inflight  # before anything runs it
    rt.inflight.release(handle.workflow_id, ctx.owner_token)

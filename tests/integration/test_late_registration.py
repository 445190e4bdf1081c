"""Workflows, queues and schedules registered after launch() run when enqueued, resumed,
recovered or scheduled, in a process that knows them (the app process runs what its workers
lack); no process claims, bounces or fails a name it does not know."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from dbos_workers import DBOS, DBOSAwaitedWorkflowCancelledError, Queue, SetWorkflowID
from tests.helpers import query, wait_until

pytestmark = pytest.mark.integration


def _row(pg_url: str, schema: str, workflow_id: str) -> dict[str, Any]:
    rows = query(pg_url, schema, "SELECT status, executor_id, recovery_attempts, parked, queue_name "
                 "FROM workflow_status WHERE workflow_uuid = %s", workflow_id)
    assert len(rows) == 1
    return rows[0]


def test_a_workflow_registered_after_launch_runs_when_enqueued(launch: Any, pg_url: str, schema: str) -> None:
    q = Queue("early")

    @DBOS.workflow()
    def early() -> str:
        return DBOS.executor_id

    launch(worker_processes=1)

    @DBOS.step()
    def double(x: int) -> int:
        return 2 * x

    @DBOS.workflow()
    def late(x: int) -> int:
        return double(x) + 1

    handle = q.enqueue(late, 20)
    assert handle.get_result(timeout=60) == 41
    row = _row(pg_url, schema, handle.workflow_id)
    assert row["executor_id"] == DBOS.executor_id and row["recovery_attempts"] == 1  # the app ran it
    assert q.enqueue(early).get_result(timeout=60) == f"{DBOS.executor_id}/0"  # the worker runs the rest
    steps = query(pg_url, schema, "SELECT count(*) AS n FROM operation_outputs WHERE workflow_uuid = %s",
                  handle.workflow_id)
    assert steps == [{"n": 1}]


def test_a_queue_registered_after_launch_runs_its_workflows(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def job(x: int) -> int:
        return x + 1

    launch(worker_processes=1)
    late_q = Queue("late-queue", worker_concurrency=2)
    handles = [late_q.enqueue(job, i) for i in range(5)]
    assert [h.get_result(timeout=60) for h in handles] == [1, 2, 3, 4, 5]
    # Its row is written at once and the workers serve every queue of the application.
    assert {_row(pg_url, schema, h.workflow_id)["executor_id"] for h in handles} == {f"{DBOS.executor_id}/0"}
    assert query(pg_url, schema, "SELECT worker_concurrency FROM queues WHERE name = 'late-queue'") == [
        {"worker_concurrency": 2}]


def test_enqueue_on_an_unregistered_queue_is_recorded_and_runs_once_registered(
        launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def job() -> str:
        return "done"

    launch(worker_processes=1)
    handle = DBOS.enqueue_workflow("not-yet", job)
    assert _row(pg_url, schema, handle.workflow_id)["status"] == "ENQUEUED"
    Queue("not-yet")
    assert handle.get_result(timeout=60) == "done"


def test_resume_of_a_late_workflow_runs_it_where_it_is_known(launch: Any, pg_url: str, schema: str) -> None:
    launch(worker_processes=1)
    ran: list[int] = []
    gate = threading.Event()

    @DBOS.workflow()
    def late_waiter() -> str:
        ran.append(1)
        if len(ran) == 1:
            gate.wait(10)
            DBOS.sleep(0.01)  # the next step sees the cancellation
        return "resumed"

    wid = f"late-resume-{uuid.uuid4().hex[:6]}"
    with SetWorkflowID(wid):
        handle = DBOS.start_workflow(late_waiter)
    wait_until(lambda: ran == [1])
    DBOS.cancel_workflow(wid)
    gate.set()
    with pytest.raises(DBOSAwaitedWorkflowCancelledError):
        handle.get_result(timeout=60)
    assert DBOS.resume_workflow(wid).get_result(timeout=60) == "resumed"
    assert _row(pg_url, schema, wid)["queue_name"] == "_dbos_internal_queue"


def test_recovered_work_of_a_late_workflow_waits_for_its_registration(
        config: dict[str, Any], pg_url: str, schema: str) -> None:
    """The app process's own PENDING run of a late workflow, left by a dead process: at the
    next launch the name is not registered yet, so it goes back to a queue (not to ERROR) and
    runs once the workflow is registered again."""
    DBOS(config={**config, "worker_processes": 1})  # type: ignore[typeddict-item]
    DBOS.launch()
    past = int(time.time() * 1000) - 60_000
    query(pg_url, schema, "INSERT INTO executors (instance_id, executor_id, host, pid, role, started_at, "
          "heartbeat_at, stopped_at) VALUES ('dead', %s, 'gone-host', 1, 'app', %s, %s, %s)",
          config["executor_id"], past, past, past)
    query(pg_url, schema, "INSERT INTO workflow_status (workflow_uuid, status, name, inputs, executor_id, "
          "owner_token, owner_instance, recovery_attempts, created_at, updated_at) VALUES ('left-over', "
          "'PENDING', 'late_recovered', %s, %s, 'tok', 'dead', 1, %s, %s)",
          _inputs(), config["executor_id"], past, past)
    DBOS.destroy()
    DBOS(config={**config, "worker_processes": 1})  # type: ignore[typeddict-item]
    DBOS.launch()  # recovery finds the name unknown: back to a queue, parked by the workers
    wait_until(lambda: _row(pg_url, schema, "left-over")["parked"], 60)

    @DBOS.workflow(name="late_recovered")
    def late_recovered(x: int) -> int:
        return x * 7

    assert DBOS.retrieve_workflow("left-over").get_result(timeout=60) == 42
    assert _row(pg_url, schema, "left-over")["executor_id"] == config["executor_id"]


def _inputs() -> str:
    from dbos_workers.serialization import PickleSerializer

    return PickleSerializer().serialize({"args": (6,), "kwargs": {}})


def test_a_schedule_of_a_late_workflow_fires_and_runs(launch: Any, pg_url: str, schema: str) -> None:
    launch(worker_processes=1)

    @DBOS.workflow()
    def late_tick(scheduled: Any, context: Any) -> str:
        return f"{context}@{DBOS.executor_id}"

    DBOS.create_schedule(schedule_name="late-every-second", workflow_fn=late_tick,
                         schedule="* * * * * *", context="ctx")
    rows = wait_until(lambda: query(pg_url, schema, "SELECT workflow_uuid, executor_id FROM workflow_status "
                                    "WHERE workflow_uuid LIKE 'sched-late-every-second-%%' AND status = 'SUCCESS'"), 60)
    assert DBOS.retrieve_workflow(rows[0]["workflow_uuid"]).get_result(timeout=5) == f"ctx@{DBOS.executor_id}"
    assert rows[0]["executor_id"] == DBOS.executor_id

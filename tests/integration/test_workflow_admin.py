"""cancel_workflows, resume_workflows, delete_workflow(s), set_workflow_delay as DBOS 3.4 has
them: many ids at once, children on request, nothing changed when an id is missing, and each
call one recorded operation inside a workflow."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dbos_workers import DBOS, DBOSException, DBOSNonExistentWorkflowError, Queue, SetEnqueueOptions, SetWorkflowID
from tests.helpers import query, wait_until

pytestmark = pytest.mark.integration


def _status(pg_url: str, schema: str, *ids: str) -> dict[str, str]:
    rows = query(pg_url, schema, "SELECT workflow_uuid AS id, status FROM workflow_status "
                 "WHERE workflow_uuid = ANY(%s)", list(ids))
    return {r["id"]: r["status"] for r in rows}


def _family() -> tuple[Any, Any]:
    @DBOS.workflow()
    def child() -> str:
        return str(DBOS.recv("go", timeout_seconds=60))

    @DBOS.workflow()
    def parent() -> str:
        with SetWorkflowID(f"{DBOS.workflow_id}-child"):
            handle = DBOS.start_workflow(child)
        return str(handle.get_result())

    return parent, child


def test_cancel_many_with_and_without_children_then_resume(launch: Any, pg_url: str, schema: str) -> None:
    parent, _ = _family()

    @DBOS.workflow()
    def done() -> int:
        return 7

    launch()
    for wid in ("p1", "p2"):
        with SetWorkflowID(wid):
            DBOS.start_workflow(parent)
    with SetWorkflowID("finished"):
        assert done() == 7
    wait_until(lambda: len(_status(pg_url, schema, "p1-child", "p2-child")) == 2)
    DBOS.cancel_workflows(["p1", "finished"])  # no children: p1-child keeps running
    DBOS.cancel_workflows(["p2"], cancel_children=True)
    assert _status(pg_url, schema, "p1", "p1-child", "p2", "p2-child", "finished") == {
        "p1": "CANCELLED", "p1-child": "PENDING", "p2": "CANCELLED", "p2-child": "CANCELLED",
        "finished": "SUCCESS"}
    with pytest.raises(DBOSNonExistentWorkflowError, match="nope"):
        DBOS.resume_workflows(["p2", "nope"])
    assert _status(pg_url, schema, "p2")["p2"] == "CANCELLED"  # nothing resumed
    handles = DBOS.resume_workflows(["p2", "p2-child", "finished"], queue_name="resumed")
    assert [h.workflow_id for h in handles] == ["p2", "p2-child", "finished"]
    rows = query(pg_url, schema, "SELECT workflow_uuid AS id, status, queue_name FROM workflow_status "
                 "WHERE workflow_uuid IN ('p2', 'p2-child', 'finished') ORDER BY 1")
    assert rows == [{"id": "finished", "status": "SUCCESS", "queue_name": None},
                    {"id": "p2", "status": "ENQUEUED", "queue_name": "resumed"},
                    {"id": "p2-child", "status": "ENQUEUED", "queue_name": "resumed"}]
    with pytest.raises(DBOSException, match="list of strings"):
        DBOS.cancel_workflows("p1")  # type: ignore[arg-type]


def test_delete_with_and_without_children(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.step()
    def one() -> int:
        return 1

    @DBOS.workflow()
    def kid() -> int:
        DBOS.set_event("k", "v")
        return one()

    @DBOS.workflow()
    def top() -> int:
        return kid() + kid()

    launch()
    for wid in ("t1", "t2"):
        with SetWorkflowID(wid):
            assert top() == 2
    kids = {w: [r["workflow_uuid"] for r in query(pg_url, schema, "SELECT workflow_uuid FROM workflow_status "
                                                    "WHERE parent_workflow_id = %s", w)] for w in ("t1", "t2")}
    assert all(len(v) == 2 for v in kids.values())
    DBOS.delete_workflow("t1")
    DBOS.delete_workflows(["t2"], delete_children=True)
    left = {r["workflow_uuid"] for r in query(pg_url, schema, "SELECT workflow_uuid FROM workflow_status")}
    assert left == set(kids["t1"])  # t1's children stay; t2's went with it
    steps = {r["workflow_uuid"] for r in query(pg_url, schema, "SELECT workflow_uuid FROM operation_outputs")}
    assert steps == set(kids["t1"])
    events = {r["workflow_uuid"] for r in query(pg_url, schema, "SELECT workflow_uuid FROM workflow_events")}
    assert events == set(kids["t1"])
    DBOS.delete_workflow("never-was")  # a no-op, as DBOS


def test_set_workflow_delay(launch: Any, pg_url: str, schema: str) -> None:
    q = Queue("later")

    @DBOS.workflow()
    def stamp() -> float:
        return time.time()

    launch(worker_processes=1)
    with SetEnqueueOptions(delay_seconds=3600):
        handle = q.enqueue(stamp)
    assert handle.get_status().status == "DELAYED"
    for bad, words in [({}, "Must specify either"), ({"delay_seconds": 1, "delay_until_epoch_ms": 1}, "not both"),
                       ({"delay_seconds": -1}, "delay_seconds must be >= 0"),
                       ({"delay_until_epoch_ms": -1}, "delay_until_epoch_ms must be >= 0")]:
        with pytest.raises(DBOSException, match=words):
            DBOS.set_workflow_delay(handle.workflow_id, **bad)
    DBOS.set_workflow_delay(handle.workflow_id, delay_seconds=7200)
    until = query(pg_url, schema, "SELECT delay_until_epoch_ms AS u FROM workflow_status")[0]["u"]
    assert abs(until / 1000 - (time.time() + 7200)) < 60
    moved = time.time()
    DBOS.set_workflow_delay(handle.workflow_id, delay_until_epoch_ms=0)
    assert handle.get_result(timeout=30) >= moved
    DBOS.set_workflow_delay(handle.workflow_id, delay_seconds=100)  # not DELAYED: untouched
    assert handle.get_status().status == "SUCCESS"


def test_calls_in_a_workflow_are_recorded_operations(launch: Any, pg_url: str, schema: str) -> None:
    parent, _ = _family()

    @DBOS.workflow()
    def admin(target: str) -> None:
        DBOS.cancel_workflows([target], cancel_children=True)
        DBOS.resume_workflows([target])
        DBOS.delete_workflows([target], delete_children=True)

    launch()
    with SetWorkflowID("victim"):
        DBOS.start_workflow(parent)
    wait_until(lambda: len(_status(pg_url, schema, "victim-child")) == 1)
    with SetWorkflowID("admin"):
        admin("victim")
    assert [s["function_name"] for s in DBOS.list_workflow_steps("admin")] == [
        "DBOS.cancelWorkflow", "DBOS.resumeWorkflow", "DBOS.deleteWorkflow"]
    assert _status(pg_url, schema, "victim", "victim-child") == {}

"""DBOS.send_bulk, DBOS.get_all_events and DBOS.wait_first, as DBOS 3.4 behaves."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from dbos_workers import (
    DBOS,
    DBOSException,
    DBOSNonExistentWorkflowError,
    SendMessage,
    SetWorkflowID,
)
from tests.helpers import query, wait_for_waiter

pytestmark = pytest.mark.integration


def _message_ids(pg_url: str, schema: str, destination: str) -> list[str]:
    return [r["message_uuid"] for r in query(
        pg_url, schema, "SELECT message_uuid FROM notifications WHERE destination_uuid = %s ORDER BY seq",
        destination)]


def test_send_bulk_delivers_in_order_to_many_destinations_at_once(launch: Any, pg_url: str,
                                                                  schema: str) -> None:
    @DBOS.workflow()
    def recv_three() -> str:
        return "-".join(str(DBOS.recv(t, timeout_seconds=10)) for t in ("t", "t", None))

    @DBOS.workflow()
    def recv_one() -> str:
        return str(DBOS.recv(timeout_seconds=1))

    launch()
    with SetWorkflowID("d3"):
        three = DBOS.start_workflow(recv_three)
    with SetWorkflowID("da"):
        a = DBOS.start_workflow(recv_one)
    with SetWorkflowID("db"):
        b = DBOS.start_workflow(recv_one)
    DBOS.send_bulk([SendMessage("d3", "x", "t"), SendMessage("d3", "y", "t"), SendMessage("d3", "z"),
                    SendMessage("da", "to-a"), SendMessage("db", "to-b", idempotency_key="k")])
    assert three.get_result(timeout=10) == "x-y-z"
    assert (a.get_result(timeout=10), b.get_result(timeout=10)) == ("to-a", "to-b")
    assert _message_ids(pg_url, schema, "db") == ["k::db"]  # the key is scoped per destination

    # Atomic: one missing destination and nothing is sent.
    with SetWorkflowID("dreal"):
        real = DBOS.start_workflow(recv_one)
    with pytest.raises(DBOSNonExistentWorkflowError):
        DBOS.send_bulk([SendMessage("dreal", "lost"), SendMessage("nowhere", "x")])
    assert real.get_result(timeout=10) == "None"
    assert _message_ids(pg_url, schema, "dreal") == []


def test_send_bulk_idempotency_keys(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def recv_two() -> str:
        return f"{DBOS.recv(timeout_seconds=10)}-{DBOS.recv(timeout_seconds=0.5)}"

    launch()
    with SetWorkflowID("dk"):
        handle = DBOS.start_workflow(recv_two)
    with pytest.raises(DBOSException, match="send_bulk received duplicate idempotency keys: dup, k2"):
        DBOS.send_bulk([SendMessage("dk", 1, idempotency_key="dup"), SendMessage("other", 2, idempotency_key="dup"),
                        SendMessage("dk", 3, idempotency_key="k2"), SendMessage("dk", 4, idempotency_key="k2")])
    DBOS.send_bulk([SendMessage("dk", "hello", idempotency_key="k1")])
    DBOS.send_bulk([SendMessage("dk", "again", idempotency_key="k1")])  # deduplicated
    DBOS.send("dk", "again", idempotency_key="k1")  # one key space with DBOS.send
    assert handle.get_result(timeout=10) == "hello-None"
    assert _message_ids(pg_url, schema, "dk") == ["k1::dk"]
    DBOS.send_bulk([])  # a no-op


def test_send_bulk_in_a_workflow_is_one_operation_sent_once(launch: Any, pg_url: str, schema: str) -> None:
    runs: list[int] = []

    @DBOS.workflow()
    def recv_two() -> str:
        return f"{DBOS.recv(timeout_seconds=10)}-{DBOS.recv(timeout_seconds=10)}"

    @DBOS.workflow()
    def sender(dest: str) -> None:
        runs.append(1)
        DBOS.send_bulk([SendMessage(dest, "one"), SendMessage(dest, "two")])
        DBOS.send_bulk([])

    dbos = launch()
    with SetWorkflowID("dw"):
        handle = DBOS.start_workflow(recv_two)
    with SetWorkflowID("sw"):
        sender("dw")
    assert handle.get_result(timeout=10) == "one-two"
    assert [s["function_name"] for s in DBOS.list_workflow_steps("sw")] == ["DBOS.send_bulk"] * 2
    assert _message_ids(pg_url, schema, "dw") == ["sw-1-0", "sw-1-1"]
    # Re-executed after losing its checkpoint (a crash right after the send): nothing is sent twice.
    query(pg_url, schema, "DELETE FROM operation_outputs WHERE workflow_uuid = 'sw'")
    query(pg_url, schema, "UPDATE workflow_status SET status='PENDING', output=NULL, "
          "owner_instance='dead-instance' WHERE workflow_uuid = 'sw'")
    dbos.destroy()
    launch()
    DBOS.retrieve_workflow("sw").get_result(timeout=10)
    assert runs == [1, 1]
    assert _message_ids(pg_url, schema, "dw") == ["sw-1-0", "sw-1-1"]


def test_get_all_events(launch: Any) -> None:
    go = threading.Event()

    @DBOS.step()
    def from_step(value: str) -> None:
        DBOS.set_event("step_key", value)

    @DBOS.workflow()
    def publisher() -> None:
        DBOS.set_event("workflow_key", "v1")
        from_step("v1")
        go.wait(10)
        DBOS.set_event("workflow_key", "v2")
        from_step("v2")

    @DBOS.workflow()
    def observer(target: str) -> dict[str, Any]:
        return DBOS.get_all_events(target)

    launch()
    assert DBOS.get_all_events("nothing-here") == {}
    with SetWorkflowID("pub"):
        handle = DBOS.start_workflow(publisher)
    assert DBOS.get_event("pub", "step_key", timeout_seconds=10) == "v1"
    assert DBOS.get_all_events("pub") == {"workflow_key": "v1", "step_key": "v1"}
    go.set()
    handle.get_result(timeout=10)
    assert DBOS.get_all_events("pub") == {"workflow_key": "v2", "step_key": "v2"}
    with SetWorkflowID("obs"):
        assert observer("pub") == {"workflow_key": "v2", "step_key": "v2"}
    steps = DBOS.list_workflow_steps("obs")
    assert [(s["function_name"], s["output"]) for s in steps] == [
        ("DBOS.get_events", {"workflow_key": "v2", "step_key": "v2"})]


def test_wait_first(launch: Any) -> None:
    release = threading.Event()

    @DBOS.workflow()
    def fast() -> str:
        return "fast"

    @DBOS.workflow()
    def slow() -> str:
        DBOS.recv("go", timeout_seconds=30)
        return "slow"

    @DBOS.workflow()
    def failing() -> None:
        release.wait(10)
        raise ValueError("boom")

    @DBOS.workflow()
    def first_of(ids: list[str]) -> str:
        return DBOS.wait_first([DBOS.retrieve_workflow(i) for i in ids]).workflow_id

    launch()
    with pytest.raises(ValueError, match="must not be empty"):
        DBOS.wait_first([])
    with SetWorkflowID("slow"):
        slow_handle = DBOS.start_workflow(slow)
    fast_handle = DBOS.start_workflow(fast)
    first = DBOS.wait_first([slow_handle, fast_handle])
    assert first is fast_handle and first.get_result() == "fast"
    with pytest.raises(ValueError, match="duplicate workflow IDs"):
        DBOS.wait_first([slow_handle, DBOS.retrieve_workflow("slow")])

    # Woken by the completion notification (the backstop is 30 s); an error counts as done.
    with SetWorkflowID("failing"):
        fail_handle = DBOS.start_workflow(failing)
    done: list[Any] = []
    waiter = threading.Thread(target=lambda: done.append(
        (DBOS.wait_first([slow_handle, fail_handle], polling_interval_sec=30), time.monotonic())))
    waiter.start()
    wait_for_waiter("c:failing")
    released = time.monotonic()
    release.set()
    waiter.join(10)
    assert done and done[0][0] is fail_handle and done[0][1] - released < 1.0
    with pytest.raises(ValueError, match="boom"):
        fail_handle.get_result()

    # In a workflow: one operation recording which workflow finished first.
    with SetWorkflowID("chooser"):
        assert first_of(["slow", fast_handle.workflow_id]) == fast_handle.workflow_id
    steps = DBOS.list_workflow_steps("chooser")
    assert [(s["function_name"], s["output"]) for s in steps][-1] == ("DBOS.waitFirst", fast_handle.workflow_id)
    DBOS.send("slow", None, "go")
    assert slow_handle.get_result(timeout=10) == "slow"

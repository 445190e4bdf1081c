"""Steps and the step listing as DBOS 3.4 records them (issue #15, item 3): step_status
numbering, should_retry, DBOSMaxStepRetriesExceeded, async-only options on sync steps,
DBOS.reserve_step, and list_workflow_steps with DBOS's names, times and shape (a child's
DBOS.getResult, the DBOS.sleep of a recv or get_event timeout, a sleep's wake-up time)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dbos_workers import (
    DBOS,
    DBOSException,
    DBOSMaxStepRetriesExceeded,
    SetWorkflowID,
    StepStatus,
)
from tests.helpers import query, wait_until

pytestmark = pytest.mark.integration


def test_step_status_numbering_and_should_retry(launch: Any, pg_url: str, schema: str) -> None:
    seen: list[Any] = []

    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0.01)
    def flaky() -> int:
        seen.append(DBOS.step_status)
        if len(seen) < 3:
            raise ValueError("again")
        return DBOS.step_id or 0

    @DBOS.step()
    def plain() -> Any:
        return DBOS.step_status

    @DBOS.step(retries_allowed=True, max_attempts=5, interval_seconds=0.01,
               should_retry=lambda e: not isinstance(e, KeyError))
    def picky(kind: str) -> None:
        seen.append(kind)
        raise KeyError(kind) if kind == "key" else ValueError(kind)

    @DBOS.workflow()
    def flow() -> tuple[int, Any]:
        return flaky(), plain()

    launch()
    with SetWorkflowID("st"):
        assert flow() == (1, StepStatus(step_id=2, current_attempt=None, max_attempts=None))
    assert seen == [StepStatus(1, 0, 3), StepStatus(1, 1, 3), StepStatus(1, 2, 3)]  # zero-indexed
    assert DBOS.step_status is None and DBOS.step_id is None  # outside a step

    @DBOS.workflow()
    def run_picky(kind: str) -> None:
        picky(kind)

    seen.clear()
    with pytest.raises(KeyError):  # should_retry says no: the error itself, at once
        run_picky("key")
    assert seen == ["key"]
    seen.clear()
    with pytest.raises(DBOSMaxStepRetriesExceeded) as exceeded:
        run_picky("value")
    assert seen == ["value"] * 5 and len(exceeded.value.errors) == 5
    assert str(exceeded.value) == f"DBOS Error 7: Step {picky.__qualname__} has exceeded its maximum of 5 retries"


def test_async_only_step_options_are_refused_on_sync_steps(launch: Any) -> None:
    launch()
    with pytest.raises(DBOSException, match="is sync but timeout_seconds is set"):
        @DBOS.step(timeout_seconds=1.0)
        def timed() -> None:
            pass
    with pytest.raises(DBOSException, match="is sync but preemptible=True"):
        @DBOS.step(preemptible=True)
        def preempt() -> None:
            pass

    @DBOS.workflow()
    def via_run_step() -> int:
        return int(DBOS.run_step({"name": None, "retries_allowed": True, "should_retry": lambda e: False},
                                 lambda: 7))

    assert via_run_step() == 7


def test_reserve_step(launch: Any, pg_url: str, schema: str) -> None:
    calls: list[str] = []

    def work(tag: str) -> str:
        calls.append(tag)
        return tag.upper()

    @DBOS.workflow()
    def flow() -> list[Any]:
        r = DBOS.reserve_step()
        second = DBOS.run_step({"name": "second"}, work, "b")
        first = r.run({"name": "first"}, work, "a")
        with pytest.raises(DBOSException, match="can only be run once"):
            r.run(None, work, "again")
        return [r.step_id, first, second]

    launch()
    with pytest.raises(DBOSException, match="must be called from a workflow"):
        DBOS.reserve_step()
    with SetWorkflowID("rs"):
        assert flow() == [1, "A", "B"]
    with SetWorkflowID("rs"):
        assert flow() == [1, "A", "B"]  # the recorded outcome
    rows = query(pg_url, schema, "SELECT function_id, function_name FROM operation_outputs "
                 "WHERE workflow_uuid = 'rs' ORDER BY function_id")
    assert [(r["function_id"], r["function_name"]) for r in rows] == [(1, "first"), (2, "second")]
    assert calls == ["b", "a"]


def test_step_listing_as_dbos_records_it(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.step()
    def stp() -> str:
        return "s"

    @DBOS.workflow()
    def child() -> str:
        return "c"

    @DBOS.workflow()
    def flow() -> list[Any]:
        out: list[Any] = [stp(), child()]
        out.append(DBOS.start_workflow(child).get_result())
        out.append(DBOS.recv("nothing", timeout_seconds=0.05))
        out.append(DBOS.get_event("nobody", "k", timeout_seconds=0.05))
        DBOS.sleep(0.05)
        DBOS.sleep(0)  # as DBOS: nothing to record
        return out

    launch()
    before = time.time()
    with SetWorkflowID("ls"):
        assert flow() == ["s", "c", "c", None, None]
    steps = DBOS.list_workflow_steps("ls")
    assert set(steps[0]) == {"function_id", "function_name", "output", "error", "child_workflow_id",
                             "child_shard_key", "started_at_epoch_ms", "completed_at_epoch_ms"}
    assert [(s["function_id"], s["function_name"], s["child_workflow_id"]) for s in steps] == [
        (1, stp.__qualname__, None),
        (2, child.__qualname__, "ls-2"), (3, "DBOS.getResult", "ls-2"),
        (4, child.__qualname__, "ls-4"), (5, "DBOS.getResult", "ls-4"),
        (6, "DBOS.recv", None), (7, "DBOS.sleep", None),
        (8, "DBOS.getEvent", None), (9, "DBOS.sleep", None),
        (10, "DBOS.sleep", None)]
    assert [s["output"] for s in steps if s["function_name"] == "DBOS.getResult"] == ["c", "c"]
    for s in steps:
        assert s["started_at_epoch_ms"] is not None and s["completed_at_epoch_ms"] is not None
        assert s["started_at_epoch_ms"] <= s["completed_at_epoch_ms"]
    sleep = steps[9]
    wake = sleep["output"]  # the wake-up time, epoch seconds (as DBOS)
    assert isinstance(wake, float) and before < wake < time.time() + 1
    assert sleep["completed_at_epoch_ms"] == int(wake * 1000)  # a sleep ends when it wakes
    assert steps[6]["output"] > steps[6]["started_at_epoch_ms"] / 1000  # the recv's deadline
    assert [s["function_id"] for s in DBOS.list_workflow_steps("ls", limit=2, offset=1)] == [2, 3]
    assert all(s["output"] is None for s in DBOS.list_workflow_steps("ls", load_output=False))
    # Replaying the whole workflow (as recovery does) takes the same ids and records nothing new.
    query(pg_url, schema, "UPDATE workflow_status SET status='PENDING', output=NULL, owner_instance=NULL "
          "WHERE workflow_uuid='ls'")
    DBOS.destroy()
    launch()
    assert DBOS.retrieve_workflow("ls").get_result(timeout=10) == ["s", "c", "c", None, None]
    assert len(DBOS.list_workflow_steps("ls")) == 10


def test_a_recovered_recv_waits_only_for_what_is_left_of_its_timeout(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def waiter() -> Any:
        return DBOS.recv("t", timeout_seconds=30)

    launch()
    with SetWorkflowID("rw"):
        handle = DBOS.start_workflow(waiter)
    # The timeout's record rides with the recv's first wake-up (within the 1 s backstop).
    wait_until(lambda: query(pg_url, schema, "SELECT 1 FROM operation_outputs WHERE workflow_uuid='rw' "
                             "AND function_name='DBOS.sleep'"), timeout=10)
    DBOS.destroy()
    # The timeout recorded before waiting is in the past now: recovery does not wait 30 s again.
    query(pg_url, schema, "UPDATE operation_outputs SET output = %s WHERE workflow_uuid='rw' "
          "AND function_name='DBOS.sleep'", _pickled(time.time() - 1))
    query(pg_url, schema, "UPDATE workflow_status SET status='PENDING', owner_instance=NULL WHERE workflow_uuid='rw'")
    launch()
    start = time.monotonic()
    assert DBOS.retrieve_workflow(handle.workflow_id).get_result(timeout=10) is None
    assert time.monotonic() - start < 5


def _pickled(value: Any) -> str:
    from dbos_workers import PickleSerializer

    return PickleSerializer().serialize(value)

"""Durable core against a real Postgres: workflows, steps, replay, errors, idempotency."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest

from dbos_workers import (
    DBOS,
    DBOSConflictingWorkflowError,
    DBOSMaxStepRetriesExceeded,
    DBOSNonExistentWorkflowError,
    DBOSSerializationError,
    DBOSUnexpectedStepError,
    SetWorkflowID,
)
from tests.helpers import query, wait_for_waiter

pytestmark = pytest.mark.integration


def test_workflow_runs_steps_and_records_them(launch: Any, pg_url: str, schema: str) -> None:
    calls: list[str] = []

    @DBOS.step()
    def one(x: int) -> int:
        calls.append("one")
        return x + 1

    @DBOS.step()
    def two(x: int) -> int:
        calls.append("two")
        return x * 10

    @DBOS.workflow()
    def flow(x: int) -> int:
        return two(one(x))

    launch()
    with SetWorkflowID("wf-1"):
        assert flow(1) == 20
    rows = query(pg_url, schema, "SELECT function_id, function_name FROM operation_outputs "
                 "WHERE workflow_uuid = 'wf-1' ORDER BY function_id")
    assert [(r["function_id"], r["function_name"].split(".")[-1]) for r in rows] == [(1, "one"), (2, "two")]
    status = DBOS.get_workflow_status("wf-1")
    assert status is not None and status.status == "SUCCESS" and status.output == 20
    # Same id again: the recorded outcome, nothing re-runs.
    with SetWorkflowID("wf-1"):
        assert flow(1) == 20
    assert calls == ["one", "two"]


def test_reexecution_replays_completed_steps(launch: Any, pg_url: str, schema: str) -> None:
    """A PENDING workflow whose first step is recorded resumes at step two on recovery."""
    calls: list[str] = []

    @DBOS.step()
    def one() -> str:
        calls.append("one")
        return "a"

    @DBOS.step()
    def two() -> str:
        calls.append("two")
        return "b"

    @DBOS.workflow()
    def flow() -> str:
        return one() + two()

    dbos = launch()
    with SetWorkflowID("wf-replay"):
        assert flow() == "ab"
    # Simulate a crash after step one: drop step two's record and the outcome.
    query(pg_url, schema, "DELETE FROM operation_outputs WHERE workflow_uuid='wf-replay' AND function_id=2")
    query(pg_url, schema, "UPDATE workflow_status SET status='PENDING', output=NULL, "
          "owner_instance='dead-instance' WHERE workflow_uuid='wf-replay'")
    dbos.destroy()
    calls.clear()
    launch()
    assert DBOS.retrieve_workflow("wf-replay").get_result(timeout=10) == "ab"
    assert calls == ["two"]
    status = DBOS.get_workflow_status("wf-replay")
    assert status is not None and status.recovery_attempts == 2


def test_workflow_error_is_stored_and_reraised(launch: Any) -> None:
    class Boom(Exception):
        pass

    @DBOS.workflow()
    def failing() -> None:
        raise ValueError("boom 42")

    launch()
    handle = DBOS.start_workflow(failing)
    with pytest.raises(ValueError, match="boom 42"):
        handle.get_result(timeout=10)
    status = handle.get_status()
    assert status.status == "ERROR" and isinstance(status.error, ValueError)
    with pytest.raises(ValueError, match="boom 42"):
        DBOS.retrieve_workflow(handle.workflow_id).get_result()


def test_step_retries_follow_backoff(launch: Any) -> None:
    times: list[float] = []

    @DBOS.step(retries_allowed=True, interval_seconds=0.1, max_attempts=3, backoff_rate=2.0)
    def flaky() -> str:
        times.append(time.monotonic())
        if len(times) < 3:
            raise RuntimeError("not yet")
        return "ok"

    @DBOS.step(retries_allowed=True, interval_seconds=0.01, max_attempts=2)
    def hopeless() -> None:
        raise RuntimeError("never")

    @DBOS.workflow()
    def flow() -> str:
        return flaky()

    @DBOS.workflow()
    def doomed() -> None:
        hopeless()

    launch()
    assert flow() == "ok"
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 2
    assert 0.09 <= gaps[0] < 0.5 and 0.19 <= gaps[1] < 0.8, gaps
    with pytest.raises(DBOSMaxStepRetriesExceeded):
        doomed()


def test_child_workflow_ids_and_start_workflow(launch: Any) -> None:
    @DBOS.workflow()
    def child(x: int) -> str:
        return f"{DBOS.workflow_id}:{x}"

    @DBOS.workflow()
    def parent() -> list[str]:
        a = child(1)
        h = DBOS.start_workflow(child, 2)
        return [a, h.get_result()]

    launch()
    with SetWorkflowID("p"):
        # As DBOS: the direct call takes ids 1 (the child) and 2 (its DBOS.getResult).
        assert parent() == ["p-1:1", "p-3:2"]


def test_conflicting_workflow_id(launch: Any) -> None:
    @DBOS.workflow()
    def a() -> int:
        return 1

    @DBOS.workflow()
    def b() -> int:
        return 2

    launch()
    with SetWorkflowID("same"):
        a()
    with SetWorkflowID("same"), pytest.raises(DBOSConflictingWorkflowError):
        b()


def test_nondeterminism_is_detected(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.step()
    def s1() -> int:
        return 1

    @DBOS.step()
    def s2() -> int:
        return 2

    @DBOS.workflow()
    def flow() -> int:
        return s1()

    launch()
    with SetWorkflowID("nd"):
        flow()
    query(pg_url, schema, "UPDATE operation_outputs SET function_name='other' WHERE workflow_uuid='nd'")
    query(pg_url, schema, "UPDATE workflow_status SET status='PENDING', owner_instance=NULL WHERE workflow_uuid='nd'")
    DBOS.destroy()
    launch()
    with pytest.raises(DBOSUnexpectedStepError, match="Check that your workflow is deterministic"):
        DBOS.retrieve_workflow("nd").get_result(timeout=10)


def test_unserializable_argument_raises_before_storing(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def flow(x: Any) -> None:
        return None

    launch()
    with pytest.raises(DBOSSerializationError, match="serialize"):
        flow(threading.Lock())
    assert query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status")[0]["n"] == 0


def test_unserializable_return_value_records_error(launch: Any) -> None:
    @DBOS.workflow()
    def flow() -> Any:
        return threading.Lock()

    launch()
    handle = DBOS.start_workflow(flow)
    with pytest.raises(DBOSSerializationError):
        handle.get_result(timeout=10)
    assert handle.get_status().status == "ERROR"


def test_retrieve_unknown_workflow(launch: Any) -> None:
    launch()
    with pytest.raises(DBOSNonExistentWorkflowError):
        DBOS.retrieve_workflow("nope")
    assert DBOS.get_workflow_status("nope") is None


def test_get_result_wakes_on_completion(launch: Any) -> None:
    release = threading.Event()

    @DBOS.workflow()
    def slow() -> str:
        release.wait(10)
        return "done"

    launch()
    handle = DBOS.start_workflow(slow)
    results: list[float] = []

    def waiter() -> None:
        handle.get_result(timeout=10)
        results.append(time.monotonic())

    t = threading.Thread(target=waiter)
    t.start()
    wait_for_waiter(f"c:{handle.workflow_id}")  # the waiter is blocked on its notification
    released = time.monotonic()
    release.set()
    t.join(10)
    assert results and results[0] - released < 0.2


def test_get_result_polling_interval_is_the_backstop_for_a_lost_notification(
        launch: Any, pg_url: str, schema: str) -> None:
    release = threading.Event()

    @DBOS.workflow()
    def blocked() -> int:
        release.wait(30)
        return 1

    launch()
    with SetWorkflowID("lost-notify"):
        handle = DBOS.start_workflow(blocked)
    with pytest.raises(ValueError):
        handle.get_result(polling_interval_sec=0)
    with pytest.raises(TypeError):
        handle.get_result(polling_interval_sec="1")  # type: ignore[arg-type]
    got: dict[str, Any] = {}

    def wait() -> None:
        got["result"] = handle.get_result(polling_interval_sec=0.05, timeout=10)
        got["at"] = time.monotonic()

    waiter = threading.Thread(target=wait)
    waiter.start()
    wait_for_waiter("c:lost-notify")
    # The outcome appears without a NOTIFY (as if the notification were lost).
    query(pg_url, schema, "UPDATE workflow_status SET status = 'SUCCESS', output = NULL "
          "WHERE workflow_uuid = 'lost-notify'")
    changed = time.monotonic()
    waiter.join(10)
    release.set()
    assert got["result"] is None
    assert got["at"] - changed < 0.5  # the 0.05 s re-read found it (the default backstop is 1 s)

"""Streams (DBOS.write_stream / close_stream / read_stream / read_stream_offset), as DBOS 3.4
documents and behaves: values in offset order until the close marker or the writer's end,
writes from workflows exactly once, readers woken by NOTIFY, reads checkpointed in workflows."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from dbos_workers import DBOS, DBOSNonExistentWorkflowError, SetWorkflowID, error
from dbos_workers.errors import DBOSAwaitedWorkflowCancelledError, DBOSWorkersError
from tests.helpers import query, wait_for_waiter, wait_until

pytestmark = pytest.mark.integration


class Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and other.x == self.x


def _stream_rows(pg_url: str, schema: str, workflow_id: str) -> list[dict[str, Any]]:
    return query(pg_url, schema, 'SELECT key, "offset", value IS NULL AS closed, function_id FROM streams '
                 'WHERE workflow_uuid = %s ORDER BY key, "offset"', workflow_id)


def test_values_are_read_in_order_until_the_close(launch: Any, pg_url: str, schema: str) -> None:
    values = ["hello", 42, {"k": "v"}, [1, 2, 3], None, Point(7), (1, 2)]

    @DBOS.workflow()
    def writer() -> None:
        for v in values:
            DBOS.write_stream("s", v)
        DBOS.write_stream("other", "a1")
        DBOS.close_stream("s")
        DBOS.write_stream("s", "after the close")  # accepted, never read
        DBOS.close_stream("empty")

    launch()
    with SetWorkflowID("w1"):
        writer()
    assert list(DBOS.read_stream("w1", "s")) == values
    assert list(DBOS.read_stream("w1", "s")) == values  # reading does not consume
    assert list(DBOS.read_stream("w1", "s", offset=5)) == [Point(7), (1, 2)]
    assert list(DBOS.read_stream("w1", "s", offset=7)) == []  # at the close
    assert list(DBOS.read_stream("w1", "s", offset=100)) == []
    assert list(DBOS.read_stream("w1", "other")) == ["a1"]  # unclosed: ends with its writer
    assert list(DBOS.read_stream("w1", "empty")) == []
    assert DBOS.read_stream_offset("w1", "s", 1) == 42
    steps = [s["function_name"] for s in DBOS.list_workflow_steps("w1")]
    assert steps == ["DBOS.writeStream"] * 8 + ["DBOS.closeStream", "DBOS.writeStream", "DBOS.closeStream"]
    rows = _stream_rows(pg_url, schema, "w1")
    assert [(r["key"], r["offset"], r["closed"]) for r in rows if r["key"] == "s"] == [
        ("s", i, False) for i in range(7)] + [("s", 7, True), ("s", 8, False)]
    assert [r["function_id"] for r in rows if r["key"] == "s"] == [1, 2, 3, 4, 5, 6, 7, 9, 10]


def test_misuse_is_refused(launch: Any) -> None:
    @DBOS.workflow()
    def done() -> None:
        pass

    launch()
    with pytest.raises(DBOSWorkersError, match="must be called from within a workflow or step"):
        DBOS.write_stream("s", 1)
    with pytest.raises(DBOSWorkersError, match="must be called from within a workflow or step"):
        DBOS.close_stream("s")
    with pytest.raises(DBOSNonExistentWorkflowError):
        list(DBOS.read_stream("no-such-workflow", "s"))
    with SetWorkflowID("w-done"):
        done()
    with pytest.raises(ValueError, match="must not be negative"):
        next(DBOS.read_stream("w-done", "s", timeout_seconds=-1))
    for bad in (0, -1, float("inf")):
        with pytest.raises(ValueError, match=r"at least 0\.001"):
            next(DBOS.read_stream("w-done", "s", polling_interval_sec=bad))
        with pytest.raises(ValueError, match=r"at least 0\.001"):
            DBOS.read_stream_offset("w-done", "s", 0, polling_interval_sec=bad)


def test_a_blocked_reader_is_woken_by_notify_and_ends_with_its_writer(launch: Any) -> None:
    """The polling backstop is 30 s here: only notifications can deliver within the bounds."""
    @DBOS.workflow()
    def writer() -> None:
        for _ in range(2):
            DBOS.write_stream("s", DBOS.recv("go", timeout_seconds=30))
        DBOS.recv("end", timeout_seconds=30)  # still running, not closing: the reader waits

    launch()
    with SetWorkflowID("w2"):
        handle = DBOS.start_workflow(writer)
    reader = DBOS.read_stream("w2", "s", polling_interval_sec=30)
    got: list[tuple[Any, float]] = []

    def read() -> None:
        for value in reader:
            got.append((value, time.monotonic()))
        got.append(("<end>", time.monotonic()))

    thread = threading.Thread(target=read)
    thread.start()
    for i, key in enumerate(["go", "go", "end"]):
        wait_for_waiter("s:w2::s")
        wait_for_waiter(f"m:w2::{key}")
        sent = time.monotonic()
        DBOS.send("w2", f"v{i}", key)
        wait_until(lambda i=i: len(got) > i, 5, 0.002)
        assert got[i][1] - sent < 0.5, (i, got[i][1] - sent)
    thread.join(5)
    handle.get_result(timeout=5)
    assert [v for v, _ in got] == ["v0", "v1", "<end>"]


def test_timeouts_are_per_value(launch: Any, pg_url: str, schema: str) -> None:
    release = threading.Event()

    @DBOS.workflow()
    def writer() -> None:
        DBOS.write_stream("s", "v0")
        release.wait(30)  # active and silent: only a timeout ends a wait

    launch()
    with SetWorkflowID("w3"):
        handle = DBOS.start_workflow(writer)
    try:
        reader = DBOS.read_stream("w3", "s", timeout_seconds=0.3)
        assert next(reader) == "v0"
        started = time.monotonic()
        with pytest.raises(error.DBOSStreamTimeoutError, match="No value arrived on stream s of workflow w3"):
            next(reader)
        assert 0.25 < time.monotonic() - started < 2.0
        with pytest.raises(error.DBOSStreamTimeoutError):
            DBOS.read_stream_offset("w3", "s", 1, timeout_seconds=0.2)
    finally:
        release.set()
    handle.get_result(timeout=10)
    started = time.monotonic()
    with pytest.raises(error.DBOSStreamTimeoutError):  # the writer ended short of offset 5
        DBOS.read_stream_offset("w3", "s", 5, timeout_seconds=30)
    assert time.monotonic() - started < 1.0


def test_a_reading_workflow_records_each_value_and_replays_what_it_read(
        launch: Any, pg_url: str, schema: str) -> None:
    """One DBOS.readStream per value delivered, plus one for the end, so a re-execution
    yields the values its first run read, not what the stream holds now."""
    values: list[Any] = ["a", None, {"k": "v"}]
    runs: list[str] = []

    @DBOS.workflow()
    def writer() -> None:
        for v in values:
            DBOS.write_stream("s", v)

    @DBOS.workflow()
    def reader(target: str) -> list[Any]:
        runs.append("reader")
        return list(DBOS.read_stream(target, "s"))

    @DBOS.workflow()
    def timed_reader(target: str) -> list[Any]:
        runs.append("timed")
        seen = [DBOS.read_stream_offset(target, "s", 1)]
        try:
            DBOS.read_stream_offset(target, "s", 9, timeout_seconds=0.3)
        except error.DBOSStreamTimeoutError:
            seen.append("timed out")
        return seen

    dbos = launch()
    with SetWorkflowID("w4"):
        writer()
    with SetWorkflowID("r4"):
        assert reader("w4") == values
    assert [s["function_name"] for s in DBOS.list_workflow_steps("r4")] == ["DBOS.readStream"] * 4
    # A timed-out read in a workflow: still active writer needed, so use a live one.
    gate = threading.Event()

    @DBOS.workflow()
    def slow_writer() -> None:
        DBOS.write_stream("s", "x0")
        DBOS.write_stream("s", "x1")
        gate.wait(30)

    with SetWorkflowID("w5"):
        slow = DBOS.start_workflow(slow_writer)
    with SetWorkflowID("t5"):
        assert timed_reader("w5") == ["x1", "timed out"]
    gate.set()
    slow.get_result(timeout=10)
    steps = DBOS.list_workflow_steps("t5")
    assert [s["function_name"] for s in steps] == ["DBOS.readStreamOffset"] * 2
    assert steps[0]["output"] == "x1" and isinstance(steps[1]["error"], error.DBOSStreamTimeoutError)

    # The stream grows afterwards; both readers are re-executed (a crash after their steps).
    query(pg_url, schema, "INSERT INTO streams (workflow_uuid, key, \"offset\", value, serialization, "
          "function_id) SELECT workflow_uuid, key, \"offset\" + 10, value, serialization, 99 FROM streams "
          "WHERE workflow_uuid IN ('w4', 'w5')")
    query(pg_url, schema, "UPDATE workflow_status SET status='PENDING', output=NULL, "
          "owner_instance='dead-instance' WHERE workflow_uuid IN ('r4', 't5')")
    dbos.destroy()
    runs.clear()
    launch()
    started = time.monotonic()
    assert DBOS.retrieve_workflow("r4").get_result(timeout=10) == values
    assert DBOS.retrieve_workflow("t5").get_result(timeout=10) == ["x1", "timed out"]
    assert time.monotonic() - started < 1.0  # the timeout replayed, not waited out again
    assert sorted(runs) == ["reader", "timed"]
    assert len(list(DBOS.read_stream("w4", "s"))) == 3  # offsets 10.. are past a gap: not read


def test_writes_from_a_step_happen_per_attempt(launch: Any) -> None:
    """As DBOS: a step that writes and then fails writes once per attempt (a step is at least
    once); the workflow's own writes are exactly once."""
    attempts: list[int] = []

    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0)
    def flaky() -> int:
        attempts.append(1)
        DBOS.write_stream("s", f"attempt-{len(attempts)}")
        if len(attempts) < 3:
            raise RuntimeError("again")
        assert DBOS.step_id is not None
        return DBOS.step_id

    @DBOS.step()
    def closer() -> None:
        DBOS.close_stream("s")

    @DBOS.workflow()
    def flow() -> int:
        step_id = flaky()
        DBOS.write_stream("s", "from-workflow")
        closer()
        return step_id

    launch()
    with SetWorkflowID("w6"):
        assert flow() == 1
    assert list(DBOS.read_stream("w6", "s")) == ["attempt-1", "attempt-2", "attempt-3", "from-workflow"]


def test_a_reading_workflow_notices_its_cancellation(launch: Any) -> None:
    release = threading.Event()
    entered = threading.Event()

    @DBOS.workflow()
    def writer() -> None:
        DBOS.write_stream("s", "v0")
        release.wait(30)

    @DBOS.workflow()
    def reader(target: str) -> list[Any]:
        seen = []
        for value in DBOS.read_stream(target, "s"):
            seen.append(value)
            entered.set()
        return seen

    launch()
    with SetWorkflowID("w7"):
        writer_handle = DBOS.start_workflow(writer)
    try:
        with SetWorkflowID("r7"):
            reader_handle = DBOS.start_workflow(reader, "w7")
        assert entered.wait(10)
        DBOS.cancel_workflow("r7")
        started = time.monotonic()
        with pytest.raises(DBOSAwaitedWorkflowCancelledError):
            reader_handle.get_result(timeout=10)
        assert time.monotonic() - started < 3.0
    finally:
        release.set()
    writer_handle.get_result(timeout=10)


def test_a_value_never_lands_once_another_execution_owns_the_writer(launch: Any, pg_url: str,
                                                                      schema: str) -> None:
    """The write is fenced by the owner token in its own statement: a stale execution (its
    workflow taken over, here by hand) writes nothing, from the workflow or from a step."""
    gate = threading.Event()

    @DBOS.step()
    def step_write() -> None:
        DBOS.write_stream("s", "from-stale-step")

    @DBOS.workflow()
    def writer(in_step: bool) -> None:
        DBOS.write_stream("s", "before")
        gate.wait(10)
        if in_step:
            step_write()
        else:
            DBOS.write_stream("s", "from-stale-workflow")

    launch()
    for wid, in_step in (("w8", False), ("w9", True)):
        gate.clear()
        with SetWorkflowID(wid):
            DBOS.start_workflow(writer, in_step)
        wait_until(lambda wid=wid: _stream_rows(pg_url, schema, wid))
        query(pg_url, schema, "UPDATE workflow_status SET owner_token = 'another-execution' "
              "WHERE workflow_uuid = %s", wid)
        gate.set()
        wait_until(lambda wid=wid: wid not in DBOS._rt().inflight, 10)  # the stale run stopped
        assert [r["offset"] for r in _stream_rows(pg_url, schema, wid)] == [0]

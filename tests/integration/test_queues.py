"""Queue semantics on a real pool: dedup, priority, rate limit, unknown names, bad input."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dbos_workers import (
    DBOS,
    DBOSConfigError,
    DBOSQueueDeduplicatedError,
    DBOSWorkersError,
    Queue,
    SetEnqueueOptions,
    SetWorkflowID,
)
from tests.helpers import query, wait_until

pytestmark = pytest.mark.integration


def test_deduplication_id_is_unique_per_active_queue_entry(launch: Any) -> None:
    q = Queue("dedup")

    @DBOS.workflow()
    def job(x: int) -> int:
        return DBOS.recv("go", timeout_seconds=10) or x

    launch(worker_processes=1)
    with SetEnqueueOptions(deduplication_id="user-1"):
        first = q.enqueue(job, 1)
    with SetEnqueueOptions(deduplication_id="user-1"), pytest.raises(DBOSQueueDeduplicatedError):
        q.enqueue(job, 2)
    DBOS.send(first.workflow_id, 7, "go")
    assert first.get_result(timeout=10) == 7
    with SetEnqueueOptions(deduplication_id="user-1"):  # cleared on completion
        assert q.enqueue(job, 3).workflow_id != first.workflow_id


def test_priority_orders_claims(launch: Any, pg_url: str, schema: str) -> None:
    q = Queue("prio", worker_concurrency=1)

    @DBOS.workflow()
    def job(tag: str) -> float:
        return time.time()

    # Enqueue before the pool exists so the order is decided by priority alone.
    launch(worker_processes=0)
    handles = {}
    for tag, prio in [("low", 9), ("mid", 5), ("high", 1)]:
        with SetEnqueueOptions(priority=prio):
            handles[tag] = q.enqueue(job, tag)
    DBOS.destroy()
    launch(worker_processes=1)
    started = {tag: h.get_result(timeout=10) for tag, h in handles.items()}
    assert started["high"] < started["mid"] < started["low"]


def test_rate_limiter_spreads_starts(launch: Any) -> None:
    q = Queue("limited", limiter={"limit": 2, "period": 1.0})

    @DBOS.workflow()
    def job() -> float:
        return time.time()

    launch(worker_processes=1)
    handles = [q.enqueue(job) for _ in range(6)]
    starts = sorted(h.get_result(timeout=20) for h in handles)
    for i in range(len(starts) - 2):
        assert starts[i + 2] - starts[i] >= 0.95, starts  # never 3 starts within one period


def test_unknown_workflow_name_waits_parked_and_runs_once_registered(
        launch: Any, pg_url: str, schema: str) -> None:
    """A name no process knows is never claimed, bounced or failed: the pool parks it (still
    ENQUEUED, out of the runnable index) and keeps working; once a process registers the
    name, that process runs it."""
    q = Queue("mixed")

    @DBOS.workflow()
    def known() -> int:
        return 1

    launch(worker_processes=1)
    handle = q.enqueue(known)
    assert handle.get_result(timeout=10) == 1
    # Another app version (or a client) enqueued a name this pool does not know.
    query(pg_url, schema, "INSERT INTO workflow_status (workflow_uuid, status, name, inputs, queue_name, "
          "created_at, updated_at) SELECT 'stranger', 'ENQUEUED', 'no.such.workflow', inputs, queue_name, "
          "created_at, updated_at FROM workflow_status WHERE workflow_uuid = %s", handle.workflow_id)
    query(pg_url, schema, "SELECT pg_notify(%s, 'q:mixed')", f"dbos_workers_{schema}")
    parked = wait_until(lambda: query(pg_url, schema, "SELECT status, parked, recovery_attempts, error "
                                      "FROM workflow_status WHERE workflow_uuid = 'stranger' AND parked"), 10)
    assert parked == [{"status": "ENQUEUED", "parked": True, "recovery_attempts": 0, "error": None}]
    assert q.enqueue(known).get_result(timeout=10) == 1  # the pool keeps working

    @DBOS.workflow(name="no.such.workflow")
    def stranger() -> str:
        return f"ran by {DBOS.executor_id}"

    assert DBOS.retrieve_workflow("stranger").get_result(timeout=10) == f"ran by {DBOS.executor_id}"
    row = query(pg_url, schema, "SELECT status, parked, executor_id, recovery_attempts FROM workflow_status "
                "WHERE workflow_uuid = 'stranger'")
    assert row == [{"status": "SUCCESS", "parked": False, "executor_id": DBOS.executor_id, "recovery_attempts": 1}]


def test_enqueue_errors_are_typed(launch: Any) -> None:
    @DBOS.workflow()
    def job() -> None: ...

    def plain() -> None: ...

    launch()
    for bad_queue in ["", "x" * 256, "nul\x00"]:
        with pytest.raises(DBOSConfigError, match="queue name"):
            DBOS.enqueue_workflow(bad_queue, job)
    q = Queue("ok")
    with pytest.raises(DBOSWorkersError, match="not a workflow"):
        q.enqueue(plain)
    for bad in [dict(concurrency=0), dict(limiter={"limit": 1}), dict(worker_concurrency="2")]:
        with pytest.raises(DBOSConfigError):
            Queue("bad", **bad)  # type: ignore[arg-type]
    with pytest.raises(DBOSConfigError):
        Queue("_dbos_mine")
    with pytest.raises(DBOSConfigError):
        SetEnqueueOptions(priority=-1)


@pytest.mark.parametrize("hostile", ["quote'\"--; DROP TABLE workflow_status;", "x" * 10_000, "ünï\u200bcode"])
def test_hostile_strings_round_trip(launch: Any, hostile: str, pg_url: str, schema: str) -> None:
    """Quotes, SQL, 10 kB and odd Unicode as workflow ids, event keys, topics and queue names."""
    queue_name = hostile if len(hostile) <= 255 else None
    if queue_name is None:
        with pytest.raises(DBOSConfigError, match="255"):
            Queue(hostile)
    q = Queue(queue_name or "plain")

    @DBOS.workflow()
    def echo(s: str) -> str:
        DBOS.set_event(hostile, s)
        return s

    @DBOS.workflow()
    def listen() -> str:
        return str(DBOS.recv(hostile, timeout_seconds=10))

    launch(worker_processes=1)
    with SetWorkflowID(hostile):
        assert echo(hostile) == hostile
    assert DBOS.get_event(hostile, hostile, timeout_seconds=1) == hostile
    handle = q.enqueue(listen)
    DBOS.send(handle.workflow_id, hostile, hostile)
    assert handle.get_result(timeout=10) == hostile
    assert handle.get_status().queue_name == (queue_name or "plain")
    assert query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status")[0]["n"] == 2


def test_nul_bytes_are_rejected_early(launch: Any) -> None:
    with pytest.raises(DBOSConfigError):
        SetWorkflowID("a\x00b")
    with pytest.raises(DBOSConfigError):
        Queue("q\x00")

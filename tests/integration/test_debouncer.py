"""Debouncer (DBOS's debounced workflow starts): calls for one key coalesce into one run with
the last inputs, started `period` after the last call (capped by debounce_timeout_sec), from
any process; the leader's promotion frees the key. Debounced workflows run on the pool."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from dbos_workers import (
    DBOS,
    DBOSException,
    DBOSQueueDeduplicatedError,
    Debouncer,
    Queue,
    SetEnqueueOptions,
    SetWorkflowID,
    SetWorkflowTimeout,
)
from tests.helpers import query, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _row(pg_url: str, schema: str, workflow_id: str) -> dict[str, Any]:
    [row] = query(pg_url, schema, "SELECT status, is_debounced, deduplication_id, delay_until_epoch_ms, "
                  "debounce_deadline_epoch_ms, workflow_deadline_epoch_ms, inputs FROM workflow_status "
                  "WHERE workflow_uuid = %s", workflow_id)
    return row


def _runs(pg_url: str, schema: str, name: str) -> int:
    return int(query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status WHERE name = %s", name)[0]["n"])


def test_calls_for_a_key_coalesce_into_one_run_with_the_last_inputs(launch: Any, pg_url: str,
                                                                     schema: str) -> None:
    @DBOS.workflow()
    def echo(x: Any) -> Any:
        return x

    launch(worker_processes=1)
    debouncer = Debouncer.create(echo)
    first = debouncer.debounce("key", 0.5, 0)
    row = _row(pg_url, schema, first.workflow_id)
    assert (row["status"], row["is_debounced"], row["deduplication_id"]) == ("DELAYED", True, f"{echo.__qualname__}-key")
    second = Debouncer.create(echo).debounce("key", 0.5, 1)
    assert second.workflow_id == first.workflow_id
    assert first.get_result(timeout=20) == 1 and second.get_result(timeout=20) == 1
    third = debouncer.debounce("key", 0.5, 2)
    fourth = debouncer.debounce("key", 0.5, 3)
    assert third.workflow_id == fourth.workflow_id != first.workflow_id
    assert fourth.get_result(timeout=20) == 3
    other_key = debouncer.debounce("other", 0.5, "o")  # keys are independent
    with SetWorkflowID("pinned-id"):
        pinned = debouncer.debounce("key", 0.5, 4)
    with SetWorkflowID("pinned-id"):  # the same pinned id again: bounces the same workflow
        assert debouncer.debounce("key", 0.5, 5).workflow_id == "pinned-id"
    assert pinned.workflow_id == "pinned-id" and pinned.get_result(timeout=20) == 5
    assert other_key.get_result(timeout=20) == "o"
    assert _runs(pg_url, schema, echo.__qualname__) == 4

    # Concurrent debounces of one key (threads racing the bounce and the insert): one workflow.
    barrier = threading.Barrier(8)
    ids: list[str] = []
    threads = [threading.Thread(target=lambda i=i: (barrier.wait(10), ids.append(
        debouncer.debounce("race", 0.5, i).workflow_id))) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(ids) == 8 and len(set(ids)) == 1
    assert DBOS.retrieve_workflow(ids[0]).get_result(timeout=20) in range(8)


def test_the_delay_is_capped_by_the_timeout_and_follows_the_last_call(launch: Any, pg_url: str,
                                                                       schema: str) -> None:
    @DBOS.workflow()
    def echo(x: Any) -> Any:
        return x

    launch(worker_processes=1)
    capped = Debouncer.create(echo, debounce_timeout_sec=1)
    started = time.monotonic()
    handle = capped.debounce("key", 1_000_000, "a")
    assert capped.debounce("key", 1_000_000, "b").workflow_id == handle.workflow_id
    row = _row(pg_url, schema, handle.workflow_id)
    assert row["delay_until_epoch_ms"] <= row["debounce_deadline_epoch_ms"]
    assert handle.get_result(timeout=20) == "b"
    assert time.monotonic() - started < 10
    plain = Debouncer.create(echo)
    long_then_short = plain.debounce("key", 1_000_000, "long")
    assert plain.debounce("key", 0.3, "short").workflow_id == long_then_short.workflow_id
    assert long_then_short.get_result(timeout=20) == "short"


def test_the_start_frees_the_key_and_so_does_a_cancel(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def blocked(x: int) -> int:
        DBOS.recv("go", timeout_seconds=30)
        return x

    launch(worker_processes=1)
    debouncer = Debouncer.create(blocked)
    handle = debouncer.debounce("key", 1_000_000, 1)
    assert debouncer.debounce("key", 0.2, 2).workflow_id == handle.workflow_id
    wait_until(lambda: _row(pg_url, schema, handle.workflow_id)["status"] == "PENDING", 20)
    assert _row(pg_url, schema, handle.workflow_id)["deduplication_id"] is None  # still running
    fresh = debouncer.debounce("key", 1_000_000, 3)
    assert fresh.workflow_id != handle.workflow_id
    DBOS.send(handle.workflow_id, None, "go")
    assert handle.get_result(timeout=20) == 2
    DBOS.cancel_workflow(fresh.workflow_id)  # a cancelled debounced workflow gives its key up
    after_cancel = debouncer.debounce("key", 0.2, 4)
    assert after_cancel.workflow_id != fresh.workflow_id
    DBOS.send(after_cancel.workflow_id, None, "go")
    assert after_cancel.get_result(timeout=20) == 4


def test_conflicts_and_options_a_debounce_owns(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def echo(x: Any) -> Any:
        return x

    launch()  # nothing here runs: no pool needed
    debouncer = Debouncer.create(echo)
    for options, words in [({"deduplication_id": "mine"}, "deduplication_id"),
                           ({"delay_seconds": 100.0}, "delay"), ({"priority": 1}, "priority")]:
        with pytest.raises(DBOSException, match=f"Cannot debounce a workflow with a {words}"), \
                SetEnqueueOptions(**options):
            debouncer.debounce("k", 1.0, 1)
    assert _runs(pg_url, schema, echo.__qualname__) == 0
    # A plain (not debounced) workflow holding the key is a conflict, not something to hijack.
    with SetEnqueueOptions(deduplication_id=f"{echo.__qualname__}-held", delay_seconds=1000):
        holder = DBOS.enqueue_workflow("_dbos_internal_queue", echo, "mine")
    with pytest.raises(DBOSQueueDeduplicatedError):
        debouncer.debounce("held", 1.0, 2)
    assert _row(pg_url, schema, holder.workflow_id)["inputs"] is not None
    assert _runs(pg_url, schema, echo.__qualname__) == 1
    with pytest.raises(DBOSException, match="Invalid queue name provided to debouncer: nope"):
        Debouncer.create(echo, queue="nope").debounce("k", 1.0, 1)

    class Holder:
        def method(self) -> None: ...

    with pytest.raises(TypeError, match="not methods"):
        Debouncer.create(Holder().method)
    DBOS.cancel_workflow(holder.workflow_id)


def test_a_debounce_in_a_workflow_is_recorded_and_replays_without_a_second_start(
        launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def child(x: int) -> int:
        return x

    debouncer = Debouncer.create(child)

    @DBOS.workflow()
    def parent() -> str:
        return debouncer.debounce("replay-key", 1_000_000, 7).workflow_id

    dbos = launch(worker_processes=1)
    with SetWorkflowID("parent"), SetWorkflowTimeout(30):
        child_id = parent()
    assert child_id == "parent-2"  # operation 1 is the bounce, 2 the child's start
    steps = DBOS.list_workflow_steps("parent")
    assert [s["function_name"] for s in steps] == ["DBOS.debounce_delayed_workflow", child.__qualname__]
    assert steps[0]["output"]["holder_workflow_id"] is None and steps[1]["child_workflow_id"] == child_id
    # The parent's deadline is not inherited: the debounced child waits longer than it may.
    assert _row(pg_url, schema, child_id)["workflow_deadline_epoch_ms"] is None

    query(pg_url, schema, "UPDATE workflow_status SET status='PENDING', output=NULL, "
          "owner_instance='dead-instance' WHERE workflow_uuid = 'parent'")
    dbos.destroy()
    launch(worker_processes=1)
    assert DBOS.retrieve_workflow("parent").get_result(timeout=20) == child_id
    assert _runs(pg_url, schema, child.__qualname__) == 1
    assert debouncer.debounce("replay-key", 0.2, 8).workflow_id == child_id  # shorten: it runs
    assert DBOS.retrieve_workflow(child_id).get_result(timeout=20) == 8


def test_debounces_from_two_processes_coalesce(launch: Any, pg_url: str, schema: str) -> None:
    q = Queue("debounce-callers")

    @DBOS.workflow()
    def echo(x: Any) -> Any:
        return [x, DBOS.executor_id]

    @DBOS.workflow()
    def caller(key: str, x: Any) -> list[str]:  # runs on the worker process
        return [Debouncer.create(echo).debounce(key, 0.3, x).workflow_id, DBOS.executor_id]

    launch(worker_processes=1)
    key = uuid.uuid4().hex
    handle = Debouncer.create(echo).debounce(key, 1_000_000, "from-app")
    bounced_id, caller_executor = q.enqueue(caller, key, "from-worker").get_result(timeout=20)
    assert bounced_id == handle.workflow_id and caller_executor != DBOS.executor_id
    value, ran_on = handle.get_result(timeout=20)
    assert value == "from-worker" and ran_on.endswith("/0")  # the pool ran it, with the last inputs
    assert _runs(pg_url, schema, echo.__qualname__) == 1

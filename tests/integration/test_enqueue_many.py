"""Bulk and group-committed enqueues: Queue.enqueue_many (one transaction, per-item options,
all or nothing) and concurrent enqueue calls sharing statements."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from dbos_workers import DBOS, DBOSQueueDeduplicatedError, EnqueueItem, Queue, SetEnqueueOptions, SetWorkflowID
from dbos_workers.errors import DBOSQueueConfigError
from tests.helpers import query

pytestmark = pytest.mark.integration


def test_enqueue_many_runs_every_item_with_its_own_options(launch: Any, pg_url: str, schema: str) -> None:
    q = Queue("bulk")

    @DBOS.workflow()
    def square(x: int) -> int:
        return x * x

    launch(worker_processes=1)
    handles = q.enqueue_many(square, [(i,) for i in range(2500)])  # two statements
    assert [h.get_result(timeout=60) for h in handles] == [i * i for i in range(2500)]
    own = q.enqueue_many(square, [EnqueueItem(args=(3,), workflow_id="bulk-a", priority=5),
                                  EnqueueItem(args=(4,), workflow_id="bulk-b", deduplication_id="d-1")])
    assert [h.workflow_id for h in own] == ["bulk-a", "bulk-b"]
    assert [h.get_result(timeout=60) for h in own] == [9, 16]
    rows = query(pg_url, schema, "SELECT workflow_uuid, priority, queue_name FROM workflow_status "
                 "WHERE workflow_uuid IN ('bulk-a', 'bulk-b') ORDER BY 1")
    assert rows == [{"workflow_uuid": "bulk-a", "priority": 5, "queue_name": "bulk"},
                    {"workflow_uuid": "bulk-b", "priority": 0, "queue_name": "bulk"}]
    again = q.enqueue_many(square, [EnqueueItem(args=(99,), workflow_id="bulk-a")])  # idempotent on id
    assert again[0].get_result(timeout=10) == 9


def test_enqueue_many_is_all_or_nothing_on_a_deduplication_conflict(launch: Any, pg_url: str,
                                                                      schema: str) -> None:
    q = Queue("bulk-dedup")

    @DBOS.workflow()
    def hold() -> None:
        DBOS.recv("never", timeout_seconds=30)

    launch()  # no workers: rows stay ENQUEUED, so the dedup id stays taken
    with SetEnqueueOptions(deduplication_id="taken"):
        q.enqueue(hold)
    before = query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status")[0]["n"]
    items = [EnqueueItem(workflow_id=f"batch-{i}") for i in range(5)]
    items.insert(3, EnqueueItem(workflow_id="dup", deduplication_id="taken"))
    with pytest.raises(DBOSQueueDeduplicatedError, match="taken"):
        q.enqueue_many(hold, items)
    assert query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status")[0]["n"] == before
    with pytest.raises(Exception, match="appears twice"):
        q.enqueue_many(hold, [EnqueueItem(workflow_id="x"), EnqueueItem(workflow_id="x")])
    with pytest.raises(Exception, match="argument tuples or EnqueueItem"):
        q.enqueue_many(hold, [1])
    parts = Queue("bulk-parts", partition_concurrency=1)
    with pytest.raises(DBOSQueueConfigError, match="partition"):
        parts.enqueue_many(hold, [EnqueueItem(queue_partition_key="k"), EnqueueItem()])


def test_enqueue_many_inside_a_workflow_is_one_operation(launch: Any, pg_url: str, schema: str) -> None:
    q = Queue("bulk-child")

    @DBOS.workflow()
    def child(x: int) -> int:
        return x + 1

    @DBOS.workflow()
    def parent() -> list[int]:
        handles = q.enqueue_many(child, [(1,), (2,), (3,)])
        return [h.get_result() for h in handles]

    launch(worker_processes=1)
    with SetWorkflowID("bulk-parent"):
        assert parent() == [2, 3, 4]
    kids = query(pg_url, schema, "SELECT workflow_uuid, parent_workflow_id FROM workflow_status "
                 "WHERE parent_workflow_id = 'bulk-parent' ORDER BY 1")
    assert [k["workflow_uuid"] for k in kids] == ["bulk-parent-1-0", "bulk-parent-1-1", "bulk-parent-1-2"]
    ops = query(pg_url, schema, "SELECT function_name FROM operation_outputs WHERE workflow_uuid = 'bulk-parent' "
                "ORDER BY function_id")
    assert ops[0]["function_name"] == "DBOS.enqueueMany"


def test_concurrent_enqueues_share_statements_and_each_gets_its_row(launch: Any, pg_url: str,
                                                                     schema: str) -> None:
    q = Queue("many-threads")

    @DBOS.workflow()
    def job(i: int) -> int:
        return i

    launch()
    got: list[str] = []
    lock = threading.Lock()

    def producer(t: int) -> None:
        for i in range(100):
            with SetEnqueueOptions(deduplication_id=f"{t}-{i}" if i % 10 == 0 else None):
                handle = q.enqueue(job, t * 1000 + i)
            with lock:
                got.append(handle.workflow_id)

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = query(pg_url, schema, "SELECT workflow_uuid FROM workflow_status WHERE queue_name = 'many-threads'")
    assert len(got) == 1600 and {r["workflow_uuid"] for r in rows} == set(got)
    with SetEnqueueOptions(deduplication_id="0-0"), pytest.raises(DBOSQueueDeduplicatedError):
        q.enqueue(job, 1)

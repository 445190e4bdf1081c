"""DBOS 3.x queues in the database: register_queue (served by every process of the
application), set_* changing limits live, retrieve/list/delete, listen_queues, partitioned
queues, worker_concurrency=0 and DBOS's validation errors."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dbos_workers import DBOS, Queue, SetEnqueueOptions
from dbos_workers.errors import DBOSQueueConfigError
from tests.helpers import query

pytestmark = pytest.mark.integration


def _overlap(pg_url: str, schema: str, ids: list[str]) -> int:
    """The most workflows of `ids` that ran at the same time (from their start/end stamps)."""
    rows = query(pg_url, schema, "SELECT started_at_epoch_ms AS s, completed_at AS e FROM workflow_status "
                 "WHERE workflow_uuid = ANY(%s)", ids)
    edges = sorted([(r["s"], 1) for r in rows] + [(r["e"], -1) for r in rows])
    best = now = 0
    for _, d in edges:
        now += d
        best = max(best, now)
    return best


def test_register_queue_after_launch_is_served_and_set_changes_its_limits_live(
        launch: Any, pg_url: str, schema: str, tmp_path: Any) -> None:
    """Concurrency 1 never overlaps; raised to 3, three runs meet at a barrier (each waits for
    the other two to have started: impossible one or two at a time)."""
    started = tmp_path / "started"
    started.mkdir()

    @DBOS.workflow()
    def meet(tag: str, wanted: int) -> int:
        (started / f"{tag}-{DBOS.workflow_id}").touch()
        deadline = time.monotonic() + 30
        while len(list(started.glob(f"{tag}-*"))) < wanted and time.monotonic() < deadline:
            DBOS.sleep(0.02)
        return len(list(started.glob(f"{tag}-*")))

    launch(worker_processes=1)
    q = DBOS.register_queue("db-backed", global_concurrency=1)
    assert q.global_concurrency == 1 and q.database_backed
    row = query(pg_url, schema, "SELECT concurrency, application_name, database_backed FROM queues "
                "WHERE name = 'db-backed'")
    assert row == [{"concurrency": 1, "application_name": "test-app", "database_backed": True}]
    first = [q.enqueue(meet, "one", 1) for _ in range(3)]
    assert [h.get_result(timeout=60) for h in first] == [1, 2, 3]  # strictly one after another
    assert _overlap(pg_url, schema, [h.workflow_id for h in first]) == 1
    q.set_global_concurrency(3)
    assert DBOS.retrieve_queue("db-backed").global_concurrency == 3  # type: ignore[union-attr]
    second = [q.enqueue(meet, "three", 3) for _ in range(3)]
    assert [h.get_result(timeout=60) for h in second] == [3, 3, 3]


def test_retrieve_list_delete_and_conflicts(launch: Any) -> None:
    launch()
    DBOS.register_queue("a-queue", worker_concurrency=2, limiter={"limit": 5, "period": 1.0})
    DBOS.register_queue("b-queue", partition_concurrency=1)
    got = DBOS.retrieve_queue("a-queue")
    assert got is not None and got.worker_concurrency == 2 and got.limiter == {"limit": 5, "period": 1.0}
    names = [q.name for q in DBOS.list_queues()]
    assert {"a-queue", "b-queue"} <= set(names) and names == sorted(names)
    assert DBOS.retrieve_queue("b-queue").partitioned  # type: ignore[union-attr]
    # never_update keeps the row; always_update replaces it
    DBOS.register_queue("a-queue", worker_concurrency=7, on_conflict="never_update")
    assert DBOS.retrieve_queue("a-queue").worker_concurrency == 2  # type: ignore[union-attr]
    DBOS.register_queue("a-queue", worker_concurrency=7, on_conflict="always_update")
    assert DBOS.retrieve_queue("a-queue").worker_concurrency == 7  # type: ignore[union-attr]
    DBOS.delete_queue("a-queue")
    assert DBOS.retrieve_queue("a-queue") is None
    with pytest.raises(Exception, match=r"only supported for queues registered via DBOS\.register_queue"):
        Queue("code-queue").set_worker_concurrency(3)


@pytest.mark.parametrize(("options", "message"), [
    (dict(concurrency=2, global_concurrency=2), "concurrency is deprecated"),
    (dict(worker_concurrency=3, global_concurrency=2), "concurrency must be greater than or equal to worker_concurrency"),
    (dict(partition_concurrency=3, global_concurrency=2), "global_concurrency must be greater than or equal to partition_concurrency"),
    (dict(partition_worker_concurrency=3, partition_concurrency=2), "partition_concurrency must be greater than or equal"),
    (dict(limiter={"limit": 3}), "limiter must specify both 'limit' and 'period'"),
    (dict(polling_interval_sec=0), "polling_interval_sec must be positive"),
    (dict(partition_concurrency=0), "partition_concurrency must be an integer >= 1"),
])
def test_register_queue_rejects_contradictory_limits_as_dbos_does(launch: Any, options: dict[str, Any],
                                                                   message: str) -> None:
    launch()
    with pytest.raises(ValueError, match=message):
        DBOS.register_queue("bad", **options)
    with pytest.raises(DBOSQueueConfigError):
        DBOS.register_queue("bad", **options)
    with pytest.raises(TypeError):
        DBOS.register_queue("bad", no_such_option=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="reserved"):
        DBOS.register_queue("_dbos_mine")


def test_partition_concurrency_holds_per_key_and_keys_run_side_by_side(
        launch: Any, pg_url: str, schema: str, tmp_path: Any) -> None:
    """Each body marks itself running (a file) for its whole run: per key never two marks at
    once; the first run of every key waits until all three keys run (impossible unless keys
    run side by side)."""
    q = Queue("per-tenant", partition_queue=True, concurrency=1)  # DBOS 2.x form
    running = tmp_path / "running"
    running.mkdir()

    @DBOS.workflow()
    def task(tenant: str, first: bool) -> tuple[int, bool]:
        mark = running / f"{tenant}-{DBOS.workflow_id}"
        mark.touch()
        same_key = len(list(running.glob(f"{tenant}-*")))
        met = True
        if first:
            deadline = time.monotonic() + 30
            while len({p.name.split("-")[0] for p in running.iterdir()}) < 3 and time.monotonic() < deadline:
                DBOS.sleep(0.02)
            met = len({p.name.split("-")[0] for p in running.iterdir()}) == 3
        DBOS.sleep(0.05)
        mark.unlink()
        return same_key, met

    launch(worker_processes=1)
    handles: dict[str, list[Any]] = {"a": [], "b": [], "c": []}
    for i in range(3):
        for tenant in handles:
            with SetEnqueueOptions(queue_partition_key=tenant):
                handles[tenant].append(q.enqueue(task, tenant, i == 0))
    for tenant, hs in handles.items():
        results = [h.get_result(timeout=60) for h in hs]
        assert [n for n, _ in results] == [1, 1, 1], (tenant, results)  # one at a time per key
        assert results[0][1], "the three keys never ran side by side"
    keys = query(pg_url, schema, "SELECT DISTINCT queue_partition_key AS k FROM workflow_status "
                 "WHERE queue_name = 'per-tenant' ORDER BY 1")
    assert [r["k"] for r in keys] == ["a", "b", "c"]
    with pytest.raises(DBOSQueueConfigError, match="partitioned"):
        q.enqueue(task, "no key", False)
    with pytest.raises(Exception, match="Deduplication is not supported for partitioned queues"), \
            SetEnqueueOptions(queue_partition_key="a", deduplication_id="d"):
        q.enqueue(task, "a", False)


def test_worker_concurrency_zero_and_listen_queues_keep_a_pool_off_a_queue(
        config: dict[str, Any], pg_url: str, schema: str) -> None:
    served, unserved = Queue("served"), Queue("unserved")
    zero = Queue("zero", worker_concurrency=0)

    @DBOS.workflow()
    def job() -> str:
        return "ran"

    DBOS(config={**config, "worker_processes": 1})  # type: ignore[typeddict-item]
    DBOS.listen_queues(["served", "zero"])
    with pytest.raises(Exception, match="more than once"):
        DBOS.listen_queues(["served"])
    DBOS.launch()
    try:
        assert served.enqueue(job).get_result(timeout=10) == "ran"
        skipped = [unserved.enqueue(job), zero.enqueue(job)]
        # A later workflow on the served queue finishes while the other two still wait.
        assert served.enqueue(job).get_result(timeout=10) == "ran"
        statuses = {h.get_status().status for h in skipped}
        assert statuses == {"ENQUEUED"}
        with pytest.raises(Exception, match="after DBOS is launched"):
            DBOS.listen_queues(["x"])
    finally:
        DBOS.destroy(destroy_registry=True)


def test_two_applications_share_one_schema(config: dict[str, Any], pg_url: str, schema: str) -> None:
    """Each application owns its own queues; the internal queue belongs to none (a second
    application on the schema was refused at launch: `_dbos_internal_queue is already
    registered by application ...`)."""

    @DBOS.workflow()
    def job(x: int) -> int:
        return x

    for app in ("first-app", "second-app"):
        DBOS(config={**config, "name": app})  # type: ignore[typeddict-item]
        DBOS.launch()
        assert DBOS.start_workflow(job, 5).get_result(timeout=30) == 5
        DBOS.destroy()
    owners = query(pg_url, schema, "SELECT name, application_name FROM queues ORDER BY name")
    assert [r["name"] for r in owners if r["name"] == "_dbos_internal_queue"] == []


def test_launch_registers_its_queues_in_one_go_or_none(config: dict[str, Any], pg_url: str, schema: str) -> None:
    """A launch writes every declared queue in one transaction: when another application
    owns one of the names, it fails naming the owner and writes none of them."""
    DBOS(config={**config, "name": "owner-app"})  # type: ignore[typeddict-item]
    Queue("shared_name")
    DBOS.launch()
    DBOS.destroy(destroy_registry=True)
    DBOS(config={**config, "name": "late-app"})  # type: ignore[typeddict-item]
    for name in ("late_one", "shared_name", "late_two"):
        Queue(name)
    with pytest.raises(DBOSQueueConfigError, match="shared_name is already registered by application owner-app"):
        DBOS.launch()
    DBOS.destroy(destroy_registry=True)
    rows = query(pg_url, schema, "SELECT name, application_name FROM queues WHERE name <> '_dbos_internal_queue' "
                 "ORDER BY name")
    assert rows == [{"name": "shared_name", "application_name": "owner-app"}]

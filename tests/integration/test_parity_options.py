"""Start and enqueue options as DBOS 3.4 has them (issue #15, item 3): SetWorkflowID's
workflow_id_reuse_policy, SetEnqueueOptions(duplication_policy=, app_version=,
queue_partition_key=), SetWorkflowAttributes, DBOS.enqueue_workflow_with_options, and the
conflicts of an id already in use."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from dbos_workers import (
    DBOS,
    DBOSConflictingWorkflowError,
    DBOSException,
    DBOSQueueDeduplicatedError,
    DBOSWorkflowIDInUseError,
    EnqueueOptions,
    Queue,
    SetEnqueueOptions,
    SetWorkflowAttributes,
    SetWorkflowID,
    WorkflowStatusString,
)
from tests.helpers import query

pytestmark = pytest.mark.integration


def _col(pg_url: str, schema: str, workflow_id: str, column: str) -> Any:
    return query(pg_url, schema, f"SELECT {column} AS v FROM workflow_status WHERE workflow_uuid = %s",
                 workflow_id)[0]["v"]


def test_workflow_id_reuse_policy(launch: Any, pg_url: str, schema: str) -> None:
    runs: list[int] = []

    @DBOS.workflow()
    def job(x: int) -> int:
        runs.append(x)
        return x

    @DBOS.workflow()
    def other() -> int:
        return 0

    @DBOS.workflow()
    def parent() -> str:
        with SetWorkflowID("taken", workflow_id_reuse_policy="reject"):
            try:
                job(9)
            except DBOSWorkflowIDInUseError as exc:
                return type(exc).__name__
        return "started"

    launch()
    with SetWorkflowID("taken"):
        assert job(1) == 1
    with SetWorkflowID("taken", workflow_id_reuse_policy="return-existing"):
        assert DBOS.start_workflow(job, 2).get_result() == 1
    with SetWorkflowID("taken", workflow_id_reuse_policy="reject"), pytest.raises(DBOSWorkflowIDInUseError) as err:
        DBOS.start_workflow(job, 3)
    assert str(err.value) == ("DBOS Error 27: Workflow ID taken is already in use by workflow "
                              f"{job.__qualname__} with status SUCCESS.")
    with SetWorkflowID("taken"), pytest.raises(DBOSConflictingWorkflowError, match="different function name"):
        other()
    assert runs == [1]
    with SetWorkflowID("par"):
        assert parent() == "DBOSWorkflowIDInUseError"
    # The failed start is the parent's recorded step: a replay raises it again, runs nothing.
    steps = DBOS.list_workflow_steps("par")
    assert [(s["function_name"], type(s["error"]).__name__) for s in steps] == [
        (job.__qualname__, "DBOSWorkflowIDInUseError")]
    with pytest.raises(DBOSException, match="Invalid workflow_id_reuse_policy"):
        SetWorkflowID("x", workflow_id_reuse_policy="never")  # type: ignore[arg-type]
    with pytest.raises(DBOSException, match="Invalid workflow ID"):
        SetWorkflowID("   ")


def test_duplication_policy_and_recorded_enqueue_options(launch: Any, pg_url: str, schema: str) -> None:
    q = Queue("dedup")
    release = threading.Event()

    @DBOS.workflow()
    def job(x: int) -> int:
        release.wait(10)
        return x

    launch()
    with SetEnqueueOptions(deduplication_id="d1", app_version="v-pinned", priority=3):
        first = q.enqueue(job, 1)
    with SetEnqueueOptions(deduplication_id="d1"), pytest.raises(DBOSQueueDeduplicatedError) as err:
        q.enqueue(job, 2)
    assert str(err.value).startswith("DBOS Error 12: Workflow ")
    assert str(err.value).endswith(" was deduplicated due to an existing workflow in queue dedup with "
                                   "deduplication ID d1.")
    with SetEnqueueOptions(deduplication_id="d1", duplication_policy="return-existing"):
        again = q.enqueue(job, 3)
    assert again.workflow_id == first.workflow_id  # the holder's handle; the arguments are dropped
    assert query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status") == [{"n": 1}]
    assert _col(pg_url, schema, first.workflow_id, "application_version") == "v-pinned"
    assert _col(pg_url, schema, first.workflow_id, "priority") == 3
    release.set()


def test_partition_key_recorded_and_run_on_a_late_queue(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def echo(x: int) -> int:
        return x

    launch(worker_processes=1)
    hold = Queue("dedup-run")  # registered after launch: the workers serve it once it is written
    with SetEnqueueOptions(queue_partition_key="tenant-7"):
        part = hold.enqueue(echo, 4)
    assert _col(pg_url, schema, part.workflow_id, "queue_partition_key") == "tenant-7"
    assert part.get_status().queue_partition_key == "tenant-7"
    assert part.get_result(timeout=30) == 4
    assert _col(pg_url, schema, part.workflow_id, "application_version") == DBOS.application_version


def test_invalid_and_misplaced_enqueue_options(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def job() -> int:
        return 1

    launch()
    Queue("q")
    with pytest.raises(DBOSException, match="Priority must be between 1~2147483647"):
        SetEnqueueOptions(priority=0)
    with pytest.raises(DBOSException, match="Invalid duplication_policy"):
        SetEnqueueOptions(duplication_policy="merge")  # type: ignore[arg-type]
    with SetEnqueueOptions(priority=5), pytest.raises(DBOSException, match=r"Enqueue option\(s\) priority set"):
        job()
    with SetEnqueueOptions(duplication_policy="return-existing"), pytest.raises(
            DBOSException, match="requires a deduplication_id"):
        DBOS.enqueue_workflow("q", job)
    with pytest.raises(DBOSException, match="Deduplication is not supported for partitioned queues"):
        SetEnqueueOptions(queue_partition_key="k", deduplication_id="d")  # refused at once
    assert query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status") == [{"n": 0}]


def test_workflow_attributes(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def child() -> None:
        return None

    @DBOS.workflow()
    def job() -> None:
        child()

    launch()
    with SetWorkflowAttributes({"customer": "acme", "n": 2}), SetWorkflowID("attr"):
        job()
    assert _col(pg_url, schema, "attr", "attributes") == {"customer": "acme", "n": 2}
    status = DBOS.get_workflow_status("attr")
    assert status is not None and status.attributes == {"customer": "acme", "n": 2}
    assert _col(pg_url, schema, "attr-1", "attributes") is None  # not inherited by children
    with pytest.raises(DBOSException, match="Attributes must be a dict"):
        SetWorkflowAttributes(["a"])  # type: ignore[arg-type]
    with pytest.raises(DBOSException, match="JSON-serializable"):
        SetWorkflowAttributes({"f": object()})


def test_enqueue_workflow_with_options(launch: Any, pg_url: str, schema: str) -> None:
    """By name: not checked against the registry, app_version NULL unless given; in a
    workflow the enqueue is its recorded child. The worker runs what it knows."""
    q = Queue("by-name")

    @DBOS.workflow(name="remote_add")
    def remote_add(a: int, b: int) -> int:
        return a + b

    @DBOS.workflow()
    def parent() -> int:
        options: EnqueueOptions = {"workflow_name": "remote_add", "queue_name": "by-name"}
        return int(DBOS.enqueue_workflow_with_options(options, 20, b=22).get_result())

    launch(worker_processes=1)
    options: EnqueueOptions = {"workflow_name": "remote_add", "queue_name": "by-name", "workflow_id": "bn-1",
                               "priority": 4, "attributes": {"k": "v"}, "authenticated_user": "svc"}
    handle = DBOS.enqueue_workflow_with_options(options, 1, 2)
    assert handle.workflow_id == "bn-1" and handle.get_result(timeout=20) == 3
    row = query(pg_url, schema, "SELECT name, queue_name, priority, attributes, authenticated_user, "
                "application_version FROM workflow_status WHERE workflow_uuid = 'bn-1'")[0]
    assert row == {"name": "remote_add", "queue_name": "by-name", "priority": 4, "attributes": {"k": "v"},
                   "authenticated_user": "svc", "application_version": None}
    with SetWorkflowID("bn-par"):
        assert parent() == 42
    steps = DBOS.list_workflow_steps("bn-par")
    assert [(s["function_name"], s["child_workflow_id"]) for s in steps] == [
        ("remote_add", "bn-par-1"), ("DBOS.getResult", "bn-par-1")]
    unknown = DBOS.enqueue_workflow_with_options(
        {"workflow_name": "nobody_has_it", "queue_name": q.name, "app_version": "v9"})
    status = unknown.get_status()
    assert status.status == WorkflowStatusString.ENQUEUED.value and status.app_version == "v9"
    assert [s.value for s in WorkflowStatusString] == [
        "PENDING", "SUCCESS", "ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED", "CANCELLED", "ENQUEUED", "DELAYED"]


def test_application_version_is_computed_unless_given(launch: Any, pg_url: str, schema: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from dbos_workers.appversion import compute_app_version
    from dbos_workers.registry import GLOBAL_REGISTRY

    @DBOS.workflow()
    def job() -> str:
        return DBOS.application_version

    monkeypatch.delenv("DBOS__APPVERSION", raising=False)
    launch()
    computed = DBOS.application_version
    assert computed == compute_app_version(GLOBAL_REGISTRY, "test-app") and len(computed) == 32
    with SetWorkflowID("v1"):
        assert job() == computed
    assert _col(pg_url, schema, "v1", "application_version") == computed
    DBOS.destroy()
    monkeypatch.setenv("DBOS__APPVERSION", "env-v")
    launch()
    assert DBOS.application_version == "env-v"
    DBOS.destroy()
    launch(application_version="cfg-v")  # the config wins over the environment
    with SetWorkflowID("v2"):
        assert job() == "cfg-v"
    assert _col(pg_url, schema, "v2", "application_version") == "cfg-v"

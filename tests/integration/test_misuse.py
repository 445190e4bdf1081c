"""Misuse gets a typed error (or a recorded ERROR status), corrupts nothing, and the system
keeps working."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import pytest

from dbos_workers import (
    DBOS,
    DBOSNotLaunchedError,
    DBOSWorkersError,
    Queue,
    SetWorkflowID,
)
from dbos_workers.db.repository import mask_url
from tests.helpers import query

pytestmark = pytest.mark.integration


def test_apis_before_launch_and_after_destroy(config: dict[str, Any]) -> None:
    @DBOS.workflow()
    def flow() -> int:
        return 1

    with pytest.raises(DBOSNotLaunchedError):
        flow()  # no DBOS(config) yet
    DBOS(config=config)  # type: ignore[typeddict-item]
    with pytest.raises(DBOSNotLaunchedError):
        DBOS.start_workflow(flow)  # constructed, not launched
    DBOS.launch()
    assert flow() == 1
    DBOS.destroy()
    with pytest.raises(DBOSNotLaunchedError):
        flow()
    with pytest.raises(DBOSNotLaunchedError):
        DBOS.get_workflow_status("x")


def test_launch_twice_warns_and_keeps_working(launch: Any) -> None:
    @DBOS.workflow()
    def flow() -> int:
        return 2

    launch()
    with pytest.warns(UserWarning, match="twice"):
        DBOS.launch()
    assert flow() == 2


def test_second_constructor_returns_the_singleton(launch: Any, config: dict[str, Any]) -> None:
    launch()
    assert DBOS(config=config) is DBOS._instance  # type: ignore[typeddict-item]


def test_unpicklable_exception_is_recorded_as_error(launch: Any) -> None:
    class LocalError(Exception):  # local classes cannot be pickled
        pass

    @DBOS.workflow()
    def flow() -> None:
        raise LocalError("cannot pickle me")

    launch()
    handle = DBOS.start_workflow(flow)
    with pytest.raises(DBOSWorkersError, match="cannot pickle me"):
        handle.get_result(timeout=10)
    assert handle.get_status().status == "ERROR"


def test_oversized_payload_round_trips(launch: Any) -> None:
    big = "x" * (8 * 1024 * 1024)

    @DBOS.step()
    def echo(s: str) -> int:
        return len(s)

    @DBOS.workflow()
    def flow(s: str) -> int:
        return echo(s)

    launch()
    assert flow(big) == len(big)


def test_steps_cannot_start_workflows(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def child() -> None: ...

    @DBOS.step()
    def bad_step() -> None:
        DBOS.start_workflow(child)

    @DBOS.workflow()
    def parent() -> None:
        bad_step()

    launch()
    with SetWorkflowID("p-bad"), pytest.raises(DBOSWorkersError, match="inside a step"):
        parent()
    rows = query(pg_url, schema, "SELECT workflow_uuid, status FROM workflow_status")
    assert rows == [{"workflow_uuid": "p-bad", "status": "ERROR"}]


def test_recv_outside_workflow_is_a_typed_error(launch: Any) -> None:
    launch()
    with pytest.raises(DBOSWorkersError, match="from a workflow"):
        DBOS.recv("t", timeout_seconds=0.1)


def test_passwords_are_masked() -> None:
    assert mask_url("postgresql://alice:s3cret@db:5432/x") == "postgresql://alice:***@db:5432/x"
    assert "s3cret" not in mask_url("host=db user=alice password=s3cret dbname=x")


def test_bad_password_error_does_not_leak_it(config: dict[str, Any], pg_url: str) -> None:
    from dbos_workers import DBOSConfigError

    bad = {**config, "system_database_url": "postgresql://nobody:hunter2@127.0.0.1:1/nodb"}
    DBOS(config=bad)  # type: ignore[typeddict-item]
    with pytest.raises((DBOSWorkersError, DBOSConfigError)) as info:
        DBOS.launch()
    assert "hunter2" not in str(info.value)


def test_enqueue_from_many_threads_is_safe(launch: Any, pg_url: str, schema: str) -> None:
    q = Queue("threads")

    @DBOS.workflow()
    def job(i: int) -> int:
        return i

    launch(worker_processes=1)
    handles: list[Any] = []
    lock = threading.Lock()

    def producer(base: int) -> None:
        for i in range(25):
            h = q.enqueue(job, base + i)
            with lock:
                handles.append(h)

    threads = [threading.Thread(target=producer, args=(k * 100,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with warnings.catch_warnings():
        assert sorted(h.get_result(timeout=20) for h in handles) == sorted(
            k * 100 + i for k in range(8) for i in range(25))


def test_nul_bytes_in_topics_keys_and_ids_are_typed_errors(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def flow() -> None:
        DBOS.set_event("ok", 1)

    launch()
    with SetWorkflowID("nul-target"):
        flow()
    for call in (lambda: DBOS.send("nul-target", 1, "to\x00pic"),
                 lambda: DBOS.send("nul\x00target", 1),
                 lambda: DBOS.get_event("nul-target", "k\x00", timeout_seconds=0),
                 lambda: DBOS.get_event("nul\x00target", "k", timeout_seconds=0)):
        with pytest.raises(DBOSWorkersError, match="NUL"):
            call()
    assert DBOS.get_event("nul-target", "ok", timeout_seconds=1) == 1  # nothing broken


def test_launch_forks_safely_from_a_thread_heavy_process(launch: Any) -> None:
    """Other threads logging and holding locks while launch() forks the pool must not leave a
    worker stuck on a lock it inherited."""
    import structlog

    q = Queue("busy")

    @DBOS.workflow()
    def job(i: int) -> int:
        return i + 1

    stop = threading.Event()
    noisy = structlog.get_logger("noisy")

    def chatter() -> None:
        while not stop.is_set():
            noisy.info("chatter_event", payload="x" * 200)

    threads = [threading.Thread(target=chatter, daemon=True) for _ in range(12)]
    for t in threads:
        t.start()
    try:
        launch(worker_processes=2, log_level="INFO")
        handles = [q.enqueue(job, i) for i in range(40)]
        assert [h.get_result(timeout=30) for h in handles] == [i + 1 for i in range(40)]
    finally:
        stop.set()
        for t in threads:
            t.join(5)

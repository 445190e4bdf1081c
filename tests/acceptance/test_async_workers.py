"""Async workflows in the worker pool, with real processes: they run as tasks on each
worker's loop thread (many at once per process, beside the thread slots), survive a SIGKILL
of their worker without re-running completed steps, and drain on destroy (finished in time,
or handed back). Workflows are defined in each test and run in the workers forked at launch."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dbos_workers import DBOS, Queue
from tests.acceptance.apps import sidelog
from tests.acceptance.apps.harness import pid_alive
from tests.helpers import query, wait_until

pytestmark = [pytest.mark.acceptance]

Launch = Callable[..., type[DBOS]]


def supervisor() -> Any:
    handle = DBOS._get().lifecycle._supervisor
    assert handle is not None
    return handle


async def wait_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def pending_by_executor(pg_url: str, schema: str, name_like: str) -> dict[str, int]:
    rows = query(pg_url, schema, "SELECT executor_id, count(*) AS n FROM workflow_status WHERE "
                 "status = 'PENDING' AND name LIKE %s GROUP BY executor_id", name_like)
    return {r["executor_id"]: r["n"] for r in rows}


def test_queued_async_workflows_run_on_the_workers_loop_beside_threads(
        launch: Launch, tmp_path: Path, pg_url: str, schema: str) -> None:
    log = tmp_path / "runs.jsonl"
    jobs = Queue("acc_async_jobs")

    @DBOS.step()
    async def mark(i: int) -> str:
        sidelog.record(log, step="mark", key=i, thread=threading.current_thread().name)
        return threading.current_thread().name

    @DBOS.workflow()
    async def waiter(i: int) -> list[Any]:
        where = await mark(i)
        got = await DBOS.recv_async("go", timeout_seconds=60)
        return [where, got, os.getpid()]

    @DBOS.workflow()
    def plain(i: int) -> str:
        return threading.current_thread().name

    launch(worker_processes=1, worker_threads=4)
    handles = [jobs.enqueue(waiter, i) for i in range(200)]
    sync_handles = [jobs.enqueue(plain, i) for i in range(8)]
    # 200 waiting at once on one worker with 4 threads: they wait on its loop, not in threads.
    wait_until(lambda: len(sidelog.read(log, step="mark")) == 200, 60, interval=0.2)
    held = pending_by_executor(pg_url, schema, "%waiter")
    assert sum(held.values()) == 200 and len(held) == 1
    assert {h.get_result(timeout=30).startswith("dbos-exec") for h in sync_handles} == {True}
    for h in handles:
        DBOS.send(h.workflow_id, "ok", "go")
    results = [h.get_result(timeout=60) for h in handles]
    worker = supervisor().worker_pids()[0]
    assert {(r[0], r[1], r[2]) for r in results} == {("dbos-worker-loop", "ok", worker)}
    assert query(pg_url, schema, "SELECT status, count(*) AS n FROM workflow_status "
                 "GROUP BY status") == [{"status": "SUCCESS", "n": 208}]

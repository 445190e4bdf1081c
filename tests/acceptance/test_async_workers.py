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


def test_sigkilled_worker_running_async_workflows_loses_nothing(
        launch: Launch, tmp_path: Path, pg_url: str, schema: str) -> None:
    """20 async workflows wait inside their second step on one worker; SIGKILL it. The
    replacement resumes each one at that step: the first step never runs again."""
    log, release = tmp_path / "steps.jsonl", tmp_path / "release"
    victims = Queue("acc_async_victims")

    @DBOS.step()
    async def first(i: int) -> str:
        sidelog.record(log, step="first", key=i)
        return f"first-{i}"

    @DBOS.step()
    async def hold(i: int) -> str:
        sidelog.record(log, step="hold", key=i)
        await wait_file(release, 60)
        return f"held-{i}"

    @DBOS.workflow()
    async def victim(i: int) -> list[Any]:
        return [await first(i), await hold(i), os.getpid()]

    launch(worker_processes=1)
    before = wait_until(lambda: (p := supervisor().worker_pids()) and p[0] and p, 10)[0]
    handles = [victims.enqueue(victim, i) for i in range(20)]
    wait_until(lambda: len(sidelog.read(log, step="hold")) == 20, 60, interval=0.1)
    assert {r["pid"] for r in sidelog.read(log, step="hold")} == {before}
    os.kill(before, signal.SIGKILL)
    wait_until(lambda: not pid_alive(before), 10)
    release.touch()  # only now: the killed process must not finish the step itself
    results = [h.get_result(timeout=60) for h in handles]
    after = supervisor().worker_pids()[0]
    assert after not in (0, before)
    assert results == [[f"first-{i}", f"held-{i}", after] for i in range(20)]
    firsts = sidelog.read(log, step="first")
    assert sorted(r["key"] for r in firsts) == list(range(20)) and {r["pid"] for r in firsts} == {before}
    holds = sidelog.read(log, step="hold")
    assert sorted((r["key"], r["pid"] == after) for r in holds) == sorted(
        [(i, False) for i in range(20)] + [(i, True) for i in range(20)])
    rows = query(pg_url, schema, "SELECT status, recovery_attempts, count(*) AS n FROM workflow_status "
                 "GROUP BY status, recovery_attempts")
    assert rows == [{"status": "SUCCESS", "recovery_attempts": 2, "n": 20}]


def test_destroy_drains_async_workflows_in_flight(launch: Launch, tmp_path: Path, pg_url: str,
                                                  schema: str) -> None:
    log = tmp_path / "runs.jsonl"
    chores = Queue("acc_async_drain")

    @DBOS.step()
    async def tick(i: int, k: int) -> int:
        await asyncio.sleep(0.15)
        return k

    @DBOS.workflow()
    async def chore(i: int) -> int:
        sidelog.record(log, mark="start", key=i)
        total = 0
        for k in range(5):
            total += await tick(i, k)
        sidelog.record(log, mark="end", key=i)
        return i + total

    launch(worker_processes=2)
    handles = [chores.enqueue(chore, i) for i in range(40)]
    wait_until(lambda: len(sidelog.read(log, mark="start")) == 40, 30, interval=0.05)
    assert len(sidelog.read(log, mark="end")) < 40
    began = time.monotonic()
    DBOS.destroy(workflow_completion_timeout_sec=20)
    took = time.monotonic() - began
    assert sorted(r["key"] for r in sidelog.read(log, mark="end")) == list(range(40))
    assert took < 20
    rows = query(pg_url, schema, "SELECT workflow_uuid, status, output IS NOT NULL AS has_output "
                 "FROM workflow_status")
    assert {r["workflow_uuid"] for r in rows} == {h.workflow_id for h in handles}
    assert {(r["status"], r["has_output"]) for r in rows} == {("SUCCESS", True)}


def test_drain_timeout_hands_async_workflows_back_and_next_launch_finishes_them(
        launch: Launch, tmp_path: Path, pg_url: str, schema: str) -> None:
    log = tmp_path / "runs.jsonl"
    waits = Queue("acc_async_handback")

    @DBOS.step()
    async def before(i: int) -> int:
        sidelog.record(log, step="before", key=i)
        return i

    @DBOS.workflow()
    async def long_wait(i: int) -> Any:
        await before(i)
        return await DBOS.recv_async("go", timeout_seconds=120)

    launch(worker_processes=1)
    handles = [waits.enqueue(long_wait, i) for i in range(30)]
    wait_until(lambda: len(sidelog.read(log, step="before")) == 30, 30, interval=0.05)
    DBOS.destroy(workflow_completion_timeout_sec=1)
    rows = query(pg_url, schema, "SELECT status, recovery_attempts, count(*) AS n FROM workflow_status "
                 "GROUP BY status, recovery_attempts")
    assert rows == [{"status": "ENQUEUED", "recovery_attempts": 0, "n": 30}]  # no attempt burned

    launch(worker_processes=1)
    for h in handles:
        DBOS.send(h.workflow_id, h.workflow_id, "go")
    assert [DBOS.retrieve_workflow(h.workflow_id).get_result(timeout=60) for h in handles] == [
        h.workflow_id for h in handles]
    # the completed first step is replayed on the next launch, not run again
    assert sorted(r["key"] for r in sidelog.read(log, step="before")) == list(range(30))


@pytest.mark.slow
def test_one_worker_process_holds_over_5000_waiting_async_workflows(
        launch: Launch, pg_url: str, schema: str) -> None:
    """6,000 async workflows, each waiting in recv, all PENDING on one worker process at the
    same time (its 4 threads could hold 4); then one send_bulk releases them all."""
    many = Queue("acc_async_many")
    count = 6000

    @DBOS.workflow()
    async def parked(i: int) -> int:
        got = await DBOS.recv_async("go", timeout_seconds=300)
        return int(got) + i

    launch(worker_processes=1, worker_threads=4)
    began = time.monotonic()
    handles = many.enqueue_many(parked, [(i,) for i in range(count)])
    holding = wait_until(lambda: (h := pending_by_executor(pg_url, schema, "%parked"))
                         and sum(h.values()) == count and h, 120, interval=0.5)
    waiting_sec = time.monotonic() - began
    assert len(holding) == 1  # one executor id: the one worker process
    worker_pid = supervisor().worker_pids()[0]
    steps = query(pg_url, schema, "SELECT count(*) AS n FROM operation_outputs")
    print(f"\n{count} async workflows waiting on worker {worker_pid} after {waiting_sec:.1f}s "
          f"({steps[0]['n']} timeout records)")
    from dbos_workers.messages import SendMessage

    DBOS.send_bulk([SendMessage(h.workflow_id, 1, "go") for h in handles])
    wait_until(lambda: query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status WHERE "
                             "status = 'SUCCESS'")[0]["n"] == count, 120, interval=0.5)
    print(f"all {count} finished {time.monotonic() - began:.1f}s after the enqueue")
    assert handles[17].get_result(timeout=10) == 18
    assert query(pg_url, schema, "SELECT count(DISTINCT executor_id) AS n FROM workflow_status") == [{"n": 1}]


def test_enqueue_async_twins_and_an_enqueued_async_step(launch: Launch, pg_url: str, schema: str) -> None:
    jobs = Queue("acc_async_enqueue")

    @DBOS.step()
    async def lone(x: int) -> tuple[int, str]:
        return x + 1, threading.current_thread().name

    @DBOS.workflow()
    async def flow(x: int) -> tuple[int, int]:
        await DBOS.sleep_async(0.01)
        return x * 2, os.getpid()

    launch(worker_processes=1)
    worker = wait_until(lambda: (p := supervisor().worker_pids()) and p[0] and p, 10)[0]

    async def main() -> list[Any]:
        handles = [await jobs.enqueue_async(flow, 1),
                   await DBOS.enqueue_workflow_async("acc_async_enqueue", flow, 2),
                   await jobs.enqueue_async(lone, 3),
                   await DBOS.enqueue_workflow_with_options_async(
                       {"queue_name": "acc_async_enqueue", "workflow_name": flow.__qualname__}, 5)]
        return [await h.get_result(timeout=30) for h in handles]

    assert asyncio.run(main()) == [(2, worker), (4, worker), (4, "dbos-worker-loop"), (10, worker)]
    rows = query(pg_url, schema, "SELECT name, status, executor_id FROM workflow_status ORDER BY created_at")
    assert [r["status"] for r in rows] == ["SUCCESS"] * 4
    assert rows[2]["name"].startswith("<temp>.")
    assert {r["executor_id"].rsplit("/", 1)[1] for r in rows} == {"0"}


def test_cancel_from_another_process_wakes_a_waiting_async_workflow_and_preempts_a_step(
        launch: Launch, tmp_path: Path, pg_url: str, schema: str) -> None:
    log = tmp_path / "runs.jsonl"
    jobs = Queue("acc_async_cancel")

    @DBOS.workflow()
    async def waiting() -> Any:
        sidelog.record(log, step="waiting")
        try:
            return await DBOS.recv_async("never", timeout_seconds=300)
        except BaseException as exc:
            sidelog.record(log, step="waiting_stopped", error=type(exc).__name__)
            raise

    @DBOS.step(preemptible=True)
    async def endless() -> str:
        sidelog.record(log, step="endless")
        try:
            await asyncio.sleep(300)
        except asyncio.CancelledError:
            sidelog.record(log, step="endless_cancelled")
            raise
        sidelog.record(log, step="endless_done")
        return "never"

    @DBOS.workflow()
    async def stepping() -> str:
        return await endless()

    launch(worker_processes=1)
    a, b = jobs.enqueue(waiting), jobs.enqueue(stepping)
    wait_until(lambda: sidelog.read(log, step="waiting") and sidelog.read(log, step="endless"), 30)
    DBOS.cancel_workflow(a.workflow_id)  # this process: the worker hears it as an `x:` NOTIFY
    DBOS.cancel_workflow(b.workflow_id)
    # Both stop in the worker at once (woken, not at the end of their 300 s waits).
    stopped = wait_until(lambda: sidelog.read(log, step="waiting_stopped"), 30)
    assert stopped[0]["error"] == "DBOSWorkflowCancelledError"
    assert stopped[0]["pid"] == supervisor().worker_pids()[0]
    wait_until(lambda: sidelog.read(log, step="endless_cancelled"), 30)
    assert not sidelog.read(log, step="endless_done")
    assert query(pg_url, schema, "SELECT status, count(*) AS n FROM workflow_status GROUP BY status") == [
        {"status": "CANCELLED", "n": 2}]
    rows = query(pg_url, schema, "SELECT count(*) AS n FROM operation_outputs o JOIN workflow_status w "
                 "USING (workflow_uuid) WHERE w.name LIKE '%%stepping'")
    assert rows == [{"n": 0}]


def test_sync_workflows_still_run_while_the_loop_is_full(launch: Launch, pg_url: str, schema: str) -> None:
    """One queue, a worker whose loop holds 5: five async workflows fill it (waiting), then
    sync workflows behind them on the same queue run on its threads all the same."""
    mixed = Queue("acc_async_mixed")

    @DBOS.workflow()
    async def hog(i: int) -> Any:
        return await DBOS.recv_async("go", timeout_seconds=120)

    @DBOS.workflow()
    def quick(i: int) -> int:
        return i * 3

    launch(worker_processes=1, worker_threads=4, worker_async_concurrency=5)
    hogs = [mixed.enqueue(hog, i) for i in range(8)]
    wait_until(lambda: sum(pending_by_executor(pg_url, schema, "%hog").values()) == 5, 30)
    quicks = [mixed.enqueue(quick, i) for i in range(10)]
    assert [h.get_result(timeout=60) for h in quicks] == [i * 3 for i in range(10)]
    assert sum(pending_by_executor(pg_url, schema, "%hog").values()) == 5  # never over the loop's room
    for h in hogs:
        DBOS.send(h.workflow_id, h.workflow_id, "go")
    assert [h.get_result(timeout=60) for h in hogs] == [h.workflow_id for h in hogs]

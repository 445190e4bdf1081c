"""The worker pool with real processes and real signals: spread, SIGKILL of a worker, drain
on destroy (finish or hand back), queue concurrency limits, and waiting on handed-back work.

Workflows are defined inside each test (the registry is cleared between tests) and run in the
worker processes forked at launch. They append to a side log (``apps/sidelog.py``) so the test
counts executions per step and measures run intervals per worker pid.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import multiprocess
import pytest

from dbos_workers import DBOS, Queue
from tests.acceptance.apps import sidelog
from tests.acceptance.apps.harness import (
    APPS_DIR,
    REPO_ROOT,
    AppProcess,
    cli_command,
    load_module,
    max_overlap,
    pid_alive,
    use_env,
)
from tests.helpers import query, wait_until

pytestmark = [pytest.mark.acceptance]

Launch = Callable[..., type[DBOS]]


def supervisor() -> Any:
    handle = DBOS._get().lifecycle._supervisor
    assert handle is not None
    return handle


def live_workers(count: int) -> list[int]:
    """Wait until `count` worker slots hold a live pid; returns the pids in slot order."""
    sup = supervisor()
    pids: list[int] = wait_until(lambda: (p := sup.worker_pids()) and len(p) == count and p, 10)
    return pids


def slot_of(entry: dict[str, Any]) -> int:
    return int(str(entry["executor"]).rsplit("/", 1)[1])


def intervals(log: Path, **match: Any) -> dict[str, tuple[float, float, int]]:
    """workflow key -> (start, end, pid) from its `start`/`end` records."""
    starts = {r["key"]: r for r in sidelog.read(log, mark="start", **match)}
    ends = {r["key"]: r for r in sidelog.read(log, mark="end", **match)}
    return {k: (starts[k]["t"], ends[k]["t"], starts[k]["pid"]) for k in ends}


def test_300_queued_workflows_run_on_both_workers(launch: Launch, pg_url: str, schema: str) -> None:
    bulk = Queue("acc_bulk")

    @DBOS.step()
    def where(i: int) -> int:
        return os.getpid()

    @DBOS.workflow()
    def square(i: int) -> dict[str, int]:
        return {"i": i, "square": i * i, "pid": where(i)}

    launch(worker_processes=2)
    workers = live_workers(2)
    started = time.monotonic()
    handles = [bulk.enqueue(square, i) for i in range(300)]
    results = [h.get_result(timeout=60) for h in handles]
    elapsed = time.monotonic() - started
    print(f"\n300 queued workflows on 2 workers: {elapsed:.2f}s")
    assert [(r["i"], r["square"]) for r in results] == [(i, i * i) for i in range(300)]
    pids = {r["pid"] for r in results}
    assert os.getpid() not in pids
    assert pids == set(workers), (pids, workers)
    rows = query(pg_url, schema, "SELECT status, executor_id, count(*) AS n FROM workflow_status "
                 "WHERE queue_name = 'acc_bulk' GROUP BY status, executor_id ORDER BY executor_id")
    executor = DBOS._get().settings.executor_id
    assert {r["status"] for r in rows} == {"SUCCESS"}
    assert [r["executor_id"] for r in rows] == [f"{executor}/0", f"{executor}/1"]
    assert sum(r["n"] for r in rows) == 300


CPUS = sorted(os.sched_getaffinity(0))


@pytest.mark.parametrize(("affinity", "workers", "pinned"), [
    (None, len(CPUS), len(CPUS) >= 2),  # default "auto": a pool with a worker per CPU pins
    ("auto", 1, False),  # a smaller pool leaves the cores alone
    (True, 1, len(CPUS) >= 2),
    (False, len(CPUS), False),
])
def test_workers_are_pinned_to_a_cpu_each(launch: Launch, affinity: object, workers: int,
                                          pinned: bool) -> None:
    """worker_cpu_affinity: worker slot i runs on the i-th CPU this process may use; unpinned
    workers keep the app's CPU set. (On one CPU there is nothing to pin.)"""
    config = {} if affinity is None else {"worker_cpu_affinity": affinity}
    launch(worker_processes=workers, **config)
    pids = live_workers(workers)
    expected = [{CPUS[i % len(CPUS)]} if pinned else set(CPUS) for i in range(workers)]
    assert wait_until(lambda: [os.sched_getaffinity(p) for p in pids] == expected, 10), \
        ([os.sched_getaffinity(p) for p in pids], expected)
    # every thread of the worker (listener, heartbeat, ... once it has booted), not only its
    # main one
    for pid, cpus in zip(pids, expected, strict=True):
        assert wait_until(lambda pid=pid: len(os.listdir(f"/proc/{pid}/task")) > 2, 10)
        tasks = os.listdir(f"/proc/{pid}/task")
        assert all(os.sched_getaffinity(int(t)) == cpus for t in tasks)


def test_sigkilled_worker_is_replaced_and_its_workflow_resumes(
        launch: Launch, tmp_path: Path, pg_url: str, schema: str) -> None:
    log, release = tmp_path / "steps.jsonl", tmp_path / "release"
    victims = Queue("acc_victim")

    @DBOS.step()
    def prepare() -> str:
        sidelog.record(log, step="prepare", executor=DBOS.executor_id)
        return "prepared"

    @DBOS.step()
    def hold() -> str:
        sidelog.record(log, step="hold", executor=DBOS.executor_id)
        sidelog.wait_for_file(release, timeout=30)
        return "held"

    @DBOS.step()
    def finish() -> str:
        sidelog.record(log, step="finish", executor=DBOS.executor_id)
        return "finished"

    @DBOS.workflow()
    def victim() -> list[Any]:
        return [prepare(), hold(), finish(), os.getpid()]

    launch(worker_processes=2)
    sup = supervisor()
    before = live_workers(2)
    handle = victims.enqueue(victim)
    holding = wait_until(lambda: sidelog.read(log, step="hold"), 10)[0]
    victim_pid, slot = holding["pid"], slot_of(holding)
    assert before[slot] == victim_pid

    killed_at = time.monotonic()
    os.kill(victim_pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(victim_pid), 5)
    release.touch()  # only now: the killed process must not finish the step itself
    resumed = wait_until(lambda: [r for r in sidelog.read(log, step="hold") if r["pid"] != victim_pid], 10)[0]
    latency = resumed["t"] - killed_at
    print(f"\nresume latency after SIGKILL of worker {victim_pid}: {latency * 1000:.0f} ms")
    assert latency < 2.0

    assert handle.get_result(timeout=20) == ["prepared", "held", "finished", resumed["pid"]]
    assert [r["pid"] for r in sidelog.read(log, step="prepare")] == [victim_pid]
    assert [r["pid"] for r in sidelog.read(log, step="hold")] == [victim_pid, resumed["pid"]]
    assert [r["pid"] for r in sidelog.read(log, step="finish")] == [resumed["pid"]]

    after = live_workers(2)
    assert victim_pid not in after
    assert after[slot] not in (0, victim_pid) and after[1 - slot] == before[1 - slot]
    assert sup._shared.slot_pid(slot) == after[slot]
    row = query(pg_url, schema, "SELECT status, recovery_attempts FROM workflow_status "
                "WHERE workflow_uuid = %s", handle.workflow_id)[0]
    assert row == {"status": "SUCCESS", "recovery_attempts": 2}


def assert_no_process_left(supervisor_pid: int, worker_pids: list[int]) -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(supervisor_pid, os.WNOHANG)  # reaped already: no zombie child of ours
    assert not [pid for pid in [supervisor_pid, *worker_pids] if pid_alive(pid)]
    assert not multiprocess.active_children()


def test_destroy_waits_for_in_flight_workflows(launch: Launch, tmp_path: Path, pg_url: str,
                                               schema: str) -> None:
    log = tmp_path / "runs.jsonl"
    chores = Queue("acc_drain")

    @DBOS.step()
    def tick(i: int, k: int) -> int:
        time.sleep(0.15)  # the workflow's own pace
        return k

    @DBOS.workflow()
    def chore(i: int) -> int:
        sidelog.record(log, mark="start", key=i)
        total = sum(tick(i, k) for k in range(5))
        sidelog.record(log, mark="end", key=i)
        return i + total

    launch(worker_processes=2)
    sup = supervisor()
    workers, supervisor_pid = live_workers(2), sup.pid
    handles = [chores.enqueue(chore, i) for i in range(4)]
    wait_until(lambda: len(sidelog.read(log, mark="start")) == 4, 10)
    assert not sidelog.read(log, mark="end")

    began = time.monotonic()
    DBOS.destroy(workflow_completion_timeout_sec=10)
    returned = time.monotonic()
    print(f"\ndestroy(10) with 4 in-flight workflows: {returned - began:.2f}s")
    ends = sidelog.read(log, mark="end")
    assert sorted(r["key"] for r in ends) == [0, 1, 2, 3]
    assert max(r["t"] for r in ends) <= returned
    assert returned - began < 10
    rows = query(pg_url, schema, "SELECT workflow_uuid, status, output IS NOT NULL AS has_output "
                 "FROM workflow_status WHERE queue_name = 'acc_drain'")
    assert {r["workflow_uuid"] for r in rows} == {h.workflow_id for h in handles}
    assert {(r["status"], r["has_output"]) for r in rows} == {("SUCCESS", True)}
    assert_no_process_left(supervisor_pid, workers)


@pytest.mark.slow
def test_destroy_timeout_hands_back_and_next_launch_finishes_once(
        launch: Launch, tmp_path: Path, pg_url: str, schema: str) -> None:
    """Two 60 s-ish workflows: one waits inside a step, one is a loop of 0.1 s steps."""
    log, release = tmp_path / "steps.jsonl", tmp_path / "release"
    long_jobs = Queue("acc_handback")

    @DBOS.step()
    def before() -> str:
        sidelog.record(log, step="before")
        return "before"

    @DBOS.step()
    def gate() -> str:
        sidelog.record(log, step="gate")
        sidelog.wait_for_file(release, timeout=60)  # a 60 s step unless released
        return "released"

    @DBOS.workflow()
    def waiting_job() -> list[str]:
        result = [before(), gate()]
        sidelog.record(log, step="waiting_done")
        return result

    @DBOS.step()
    def tick(k: int) -> int:
        sidelog.record(log, step="tick", k=k)
        if not release.exists():
            time.sleep(0.1)  # 600 ticks: a 60 s workflow unless released
        return k

    @DBOS.workflow()
    def looping_job(n: int) -> int:
        total = sum(tick(k) for k in range(n))
        sidelog.record(log, step="looping_done")
        return total

    launch(worker_processes=2)
    sup = supervisor()
    workers, supervisor_pid = live_workers(2), sup.pid
    ids = [long_jobs.enqueue(waiting_job).workflow_id, long_jobs.enqueue(looping_job, 600).workflow_id]
    wait_until(lambda: sidelog.read(log, step="gate") and len(sidelog.read(log, step="tick")) >= 3, 10)

    began = time.monotonic()
    DBOS.destroy(workflow_completion_timeout_sec=1)
    elapsed = time.monotonic() - began
    print(f"\ndestroy(1) with two 60 s workflows in flight: {elapsed:.2f}s")
    assert 1.0 <= elapsed < 3.5
    rows = query(pg_url, schema, "SELECT status, recovery_attempts, owner_token FROM workflow_status "
                 "WHERE workflow_uuid = ANY(%s)", ids)
    assert rows == [{"status": "ENQUEUED", "recovery_attempts": 0, "owner_token": None}] * 2
    assert_no_process_left(supervisor_pid, workers)
    ticks_before = [r["k"] for r in sidelog.read(log, step="tick")]
    assert ticks_before == list(range(len(ticks_before))) and len(ticks_before) < 600

    launch(worker_processes=2)
    wait_until(lambda: len(sidelog.read(log, step="gate")) == 2, 10)
    release.touch()
    assert DBOS.retrieve_workflow(ids[0]).get_result(timeout=20) == ["before", "released"]
    assert DBOS.retrieve_workflow(ids[1]).get_result(timeout=20) == sum(range(600))
    assert len(sidelog.read(log, step="before")) == 1
    assert len(sidelog.read(log, step="waiting_done")) == len(sidelog.read(log, step="looping_done")) == 1
    ticks = [r["k"] for r in sidelog.read(log, step="tick")]
    # The next launch resumes at the tick in flight at the hand-back (if its checkpoint was
    # not written) or the one after: no earlier tick runs again.
    assert ticks[len(ticks_before)] in (ticks_before[-1], ticks_before[-1] + 1)
    assert ticks[len(ticks_before):] == list(range(ticks[len(ticks_before)], 600))
    rows = query(pg_url, schema, "SELECT status, recovery_attempts FROM workflow_status "
                 "WHERE workflow_uuid = ANY(%s)", ids)
    assert rows == [{"status": "SUCCESS", "recovery_attempts": 1}] * 2


def test_destroy_timeout_hands_back_the_app_process_own_workflows(
        launch: Launch, tmp_path: Path, pg_url: str, schema: str) -> None:
    """A workflow started in the app process (DBOS.start_workflow) is not left PENDING by
    destroy(T) either: it goes back to a queue and the worker pool finishes it."""
    log, release = tmp_path / "steps.jsonl", tmp_path / "release"

    @DBOS.step()
    def before() -> str:
        sidelog.record(log, step="before")
        return "before"

    @DBOS.step()
    def gate() -> str:
        sidelog.record(log, step="gate")
        sidelog.wait_for_file(release, timeout=60)
        return "released"

    @DBOS.workflow()
    def inline_job() -> list[str]:
        return [before(), gate()]

    launch(worker_processes=0)
    workflow_id = DBOS.start_workflow(inline_job).workflow_id
    wait_until(lambda: sidelog.read(log, step="gate"), 10)
    began = time.monotonic()
    DBOS.destroy(workflow_completion_timeout_sec=1)
    elapsed = time.monotonic() - began
    print(f"\ndestroy(1) with an app-process workflow in flight: {elapsed:.2f}s")
    assert 1.0 <= elapsed < 3.5
    row = query(pg_url, schema, "SELECT status, recovery_attempts, owner_token, queue_name "
                "FROM workflow_status WHERE workflow_uuid = %s", workflow_id)[0]
    assert row["status"] == "ENQUEUED" and row["recovery_attempts"] == 0 and row["owner_token"] is None
    assert row["queue_name"]  # the internal queue

    launch(worker_processes=1)
    wait_until(lambda: len(sidelog.read(log, step="gate")) == 2, 10)
    release.touch()
    assert DBOS.retrieve_workflow(workflow_id).get_result(timeout=20) == ["before", "released"]
    assert [r["pid"] for r in sidelog.read(log, step="before")] == [os.getpid()]
    assert sidelog.read(log, step="gate")[1]["pid"] in supervisor().worker_pids()


def test_queue_concurrency_limits_hold_across_workers(launch: Launch, tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    limited = Queue("acc_limited", concurrency=2)
    per_worker = Queue("acc_per_worker", worker_concurrency=1)

    @DBOS.step()
    def work(i: int) -> int:
        time.sleep(0.2)  # the workflow's own pace
        return i

    @DBOS.workflow()
    def job(queue: str, i: int) -> int:
        sidelog.record(log, mark="start", queue=queue, key=i)
        result = work(i)
        sidelog.record(log, mark="end", queue=queue, key=i)
        return result

    launch(worker_processes=2, polling_interval_sec=0.05)  # both workers keep trying to claim
    workers = live_workers(2)
    handles = [limited.enqueue(job, "limited", i) for i in range(8)]
    handles += [per_worker.enqueue(job, "per_worker", i) for i in range(6)]
    assert sorted(h.get_result(timeout=30) for h in handles) == sorted([*range(8), *range(6)])

    runs = intervals(log, queue="limited")
    assert len(runs) == 8 and {pid for _, _, pid in runs.values()} <= set(workers)
    peak = max_overlap((start, end) for start, end, _ in runs.values())
    print(f"\nconcurrency=2: peak {peak}, per pid "
          f"{sorted(sum(1 for r in runs.values() if r[2] == p) for p in workers)}")
    assert peak == 2

    runs = intervals(log, queue="per_worker")
    assert len(runs) == 6
    by_pid: dict[int, list[tuple[float, float]]] = {}
    for start, end, pid in runs.values():
        by_pid.setdefault(pid, []).append((start, end))
    assert set(by_pid) == set(workers)
    assert {pid: max_overlap(spans) for pid, spans in by_pid.items()} == {pid: 1 for pid in workers}
    assert max_overlap((s, e) for s, e, _ in runs.values()) == 2


@pytest.mark.slow
def test_get_result_of_handed_back_workflow_waits_for_the_next_run(
        spawn: Callable[..., AppProcess], app_env: dict[str, str], pg_url: str, schema: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A service drains (SIGTERM) while a workflow runs: the workflow goes back to its queue,
    a waiting get_result keeps waiting, and returns once another service finishes it."""
    log, release = Path(app_env["ACC_SIDELOG"]), Path(app_env["ACC_RELEASE"])
    service = [*cli_command(), "start", str(APPS_DIR / "service_app.py"), "--workers", "1",
               "--drain-timeout", "0.5"]
    first = spawn(service, app_env, REPO_ROOT)
    first.wait_event("service_ready")

    use_env(monkeypatch, {**app_env, "ACC_WORKER_PROCESSES": "0"})
    app = load_module(APPS_DIR / "service_app.py")
    DBOS.launch()
    handle = app.jobs.enqueue(app.held, "k1")
    wait_until(lambda: sidelog.read(log, step="hold"), 15)
    outcome: list[Any] = []
    waiter = threading.Thread(target=lambda: outcome.append(handle.get_result(timeout=60)), daemon=True)
    waiter.start()

    first.signal(signal.SIGTERM)
    assert first.wait(10) == 0, first.stderr()[-3000:]
    row = query(pg_url, schema, "SELECT status, recovery_attempts FROM workflow_status "
                "WHERE workflow_uuid = %s", handle.workflow_id)[0]
    assert row == {"status": "ENQUEUED", "recovery_attempts": 0}
    assert waiter.is_alive() and not outcome

    second = spawn(service, app_env, REPO_ROOT)
    second.wait_event("service_ready")
    wait_until(lambda: len(sidelog.read(log, step="hold")) == 2, 15)
    assert waiter.is_alive() and not outcome
    release.touch()
    waiter.join(20)
    assert outcome == [["prepared-k1", "released-k1"]]
    assert len(sidelog.read(log, step="prepare")) == 1
    assert len(sidelog.read(log, step="held_done")) == 1
    second.signal(signal.SIGTERM)
    assert second.wait(10) == 0

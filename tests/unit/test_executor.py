"""The executor's slot accounting and the claimer's budget, over the in-memory store: every
claimed row is held from its claim until its outcome is durable; free slots follow."""

from __future__ import annotations

import threading
from typing import Any

from dbos_workers.queue import Queue
from dbos_workers.registry import Registry, WorkflowInfo
from dbos_workers.worker.budget import CpuBudget
from dbos_workers.worker.claimer import Claimer
from dbos_workers.worker.executor import Executor
from tests.helpers import wait_until
from tests.unit.fakes import FakeDatabase, fake_runtime


def _registry(body: Any, *queues: Queue) -> Registry:
    registry = Registry()
    registry.workflows["body"] = WorkflowInfo("body", body, None, __name__)
    for q in queues:
        registry.queues[q.name] = q
    return registry


def _executor(registry: Registry, db: FakeDatabase, capacity: int = 4) -> Executor:
    return Executor(fake_runtime(registry, db, threads=capacity), capacity)


def test_slots_are_held_from_claim_until_the_outcome_is_durable() -> None:
    release = threading.Event()
    db = FakeDatabase()
    for i in range(10):
        db.workflows.add_queued(f"w{i}", "body", "q")
    ex = _executor(_registry(lambda: release.wait(10), Queue("q")), db, capacity=4)
    assert ex.claim_once() == 4
    assert ex.rt.inflight.counts() == (4, 4) and ex.claimer.free() == 0
    assert ex.claim_once() == 0  # full: no claim statement for nothing
    release.set()
    wait_until(lambda: len(db.workflows.completed) == 4, 5)
    wait_until(lambda: ex.rt.inflight.counts() == (0, 0), 5)
    assert ex.claimer.free() == 4
    assert {c.status for c in db.workflows.completed} == {"SUCCESS"}
    assert ex.claim_once() == 4
    wait_until(lambda: len(db.workflows.completed) == 8, 5)
    ex.rt.executor_threads.shutdown(wait=True)


def test_worker_concurrency_caps_a_queue_in_the_ledger() -> None:
    release = threading.Event()
    db = FakeDatabase()
    for i in range(5):
        db.workflows.add_queued(f"a{i}", "body", "capped")
        db.workflows.add_queued(f"b{i}", "body", "free")
    registry = _registry(lambda: release.wait(10), Queue("capped", worker_concurrency=2), Queue("free"))
    ex = _executor(registry, db, capacity=6)
    assert ex.claim_once() == 6
    assert ex.rt.inflight.held_in("capped") == 2 and ex.rt.inflight.held_in("free") == 4
    release.set()
    wait_until(lambda: len(db.workflows.completed) == 6, 5)
    wait_until(lambda: ex.rt.inflight.held_in("capped") == 0, 5)
    ex.rt.executor_threads.shutdown(wait=True)


def test_a_failed_outcome_write_still_frees_the_slot() -> None:
    db = FakeDatabase()
    db.workflows.fail_completions = True
    db.workflows.add_queued("w", "body", "q")
    ex = _executor(_registry(lambda: 7, Queue("q")), db)
    assert ex.claim_once() == 1
    wait_until(lambda: ex.rt.inflight.counts() == (0, 0), 5)
    assert ex.claimer.free() == 4
    ex.rt.executor_threads.shutdown(wait=True)


def test_an_unknown_workflow_name_is_parked_never_claimed() -> None:
    db = FakeDatabase()
    db.workflows.add_queued("w1", "nobody-knows-me", "q")
    db.workflows.add_queued("w2", "body", "q")
    registry = _registry(lambda: 7, Queue("q"))
    ex = _executor(registry, db)
    assert ex.claim_once() == 1  # only the known one
    assert [w.workflow_id for w in db.workflows.parked] == ["w1"]
    wait_until(lambda: [c.workflow_id for c in db.workflows.completed] == ["w2"], 5)
    # The name is registered later in this process: the parked row is claimed and runs.
    from dbos_workers.registry import WorkflowInfo as Info

    registry.add_workflow(Info("nobody-knows-me", lambda: 8, None, __name__))
    ex.parked_due.set()
    assert ex.claim_once() == 1
    wait_until(lambda: len(db.workflows.completed) == 2, 5)
    assert db.workflows.parked == [] and ex.rt.inflight.counts() == (0, 0)
    ex.rt.executor_threads.shutdown(wait=True)


class BusyBudget(CpuBudget):
    """A process that keeps its core busy with workflows of `cpu` seconds each."""

    def __init__(self, cpu: float) -> None:
        super().__init__()
        self.cpu = cpu

    def load(self) -> float:
        return 1.0


def test_claimer_holds_only_the_cpu_horizon_of_cpu_bound_work() -> None:
    db = FakeDatabase()
    registry = _registry(lambda: None, Queue("q"))
    rt = fake_runtime(registry, db, threads=64)
    claimer = Claimer(rt, 64, BusyBudget(cpu=0.005))  # 150 ms / 5 ms = 30
    assert claimer.limit() == 30 and claimer.free() == 30
    for i in range(30):
        rt.inflight.claimed(f"w{i}", "q")
    assert claimer.free() == 0
    for i in range(10):  # finished executing, outcome not yet durable: no CPU left to do
        rt.inflight.ran(f"w{i}")
    assert claimer.free() == 10
    idle = Claimer(rt, 64, CpuBudget())  # not CPU-bound: the thread count
    assert idle.limit() == 64 and idle.free() == 64 - 30


def test_an_async_workflow_registered_does_not_turn_every_finish_into_a_claim() -> None:
    """Regression: the loop's free slots counted as the claim loop's, so with any async
    workflow registered a finished sync workflow woke a claim even while the claim loop was
    gathering for a batch of thread slots (0-step burn-down 13,353 -> 7,877 wf/s)."""
    async def later() -> None:
        return None

    release = threading.Event()
    db = FakeDatabase()
    for i in range(10):
        db.workflows.add_queued(f"w{i}", "body", "q")
    registry = _registry(lambda: release.wait(10), Queue("q"))
    registry.workflows["later"] = WorkflowInfo("later", later, None, __name__)
    ex = _executor(registry, db, capacity=4)
    assert ex.claim_once() == 4
    ex.want, ex.wake = 2, threading.Event()  # gathering: wake once two thread slots are free
    ex._freed()
    assert not ex.wake.is_set()
    release.set()
    wait_until(lambda: ex.rt.inflight.counts() == (0, 0), 5)
    ex.wake.clear()
    ex._freed()
    assert ex.wake.is_set()
    ex.rt.executor_threads.shutdown(wait=True)

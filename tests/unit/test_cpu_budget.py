"""CpuBudget: a worker holds fewer CPU-heavy workflows only while its process keeps a core busy."""

from __future__ import annotations

from dbos_workers.worker.budget import CpuBudget


class Busy(CpuBudget):
    """A CpuBudget whose process load is set by the test instead of measured."""

    def __init__(self, load: float, **kw: float) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.fixed = load

    def load(self) -> float:
        return self.fixed


def test_no_measurement_yet_means_the_thread_count() -> None:
    assert Busy(1.0).limit(64) == 64


def test_cpu_bound_workflows_on_a_busy_process_are_held_to_the_horizon() -> None:
    b = Busy(0.95, horizon=0.05)
    for _ in range(30):
        b.record(0.005)  # 5 ms of thread CPU each
    assert b.limit(64) == 10  # 50 ms / 5 ms (horizon set above)
    for _ in range(60):
        b.record(0.100)
    assert b.limit(64) == 2  # never below the floor
    assert b.limit(1) == 1  # nor above the thread count


def test_tiny_or_io_bound_workflows_keep_every_thread() -> None:
    b = Busy(0.95)
    for _ in range(30):
        b.record(0.00005)  # 50 us: a plain job
    assert b.limit(64) == 64


def test_a_process_with_spare_cpu_is_not_limited() -> None:
    b = Busy(0.3)
    for _ in range(30):
        b.record(0.005)
    assert b.limit(64) == 64  # CPU-heavy steps between long waits: the core is not the limit


def test_the_average_follows_a_changing_workload() -> None:
    b = Busy(0.95, horizon=0.05)
    for _ in range(30):
        b.record(0.010)
    assert b.limit(64) == 5
    for _ in range(40):
        b.record(0.0001)
    assert b.limit(64) == 64


def test_real_load_is_measured_from_process_cpu() -> None:
    import threading
    import time

    b = CpuBudget(window=0.05)
    end = time.monotonic() + 0.1
    while time.monotonic() < end:  # keep this process's core busy for a window
        pass
    assert b.load() > 0.3
    threading.Event().wait(0.1)  # an idle window (the thing measured, not a synchronization)
    assert b.load() < 0.5



def test_outcome_linger_and_gather_window_only_for_cpu_heavy_work_on_a_busy_process() -> None:
    heavy, tiny, idle = Busy(0.95), Busy(0.95), Busy(0.2)
    for _ in range(30):
        heavy.record(0.005)
        tiny.record(0.00005)
        idle.record(0.005)
    assert heavy.linger(64) == 0.02  # capped: 64 slots * 5 ms / 4 would be 80 ms
    assert abs(heavy.linger(4) - 0.005) < 1e-9  # a quarter of the slots' worth of outcomes
    assert tiny.linger(64) == 0.0 and idle.linger(64) == 0.0
    assert Busy(0.95).linger(64) == 0.0  # nothing measured yet
    assert heavy.gather_sec(0.003) == heavy.horizon / 4
    assert tiny.gather_sec(0.003) == tiny.horizon / 4  # busy: a quarter of the slots frees fast
    assert idle.gather_sec(0.003) == 0.003

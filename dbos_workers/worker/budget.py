"""CPU-aware concurrency of a worker process.

Python runs one thread at a time (the GIL), so a worker process cannot use more than one core
on workflow code. For I/O-bound or tiny workflows that changes nothing: a worker holds and runs
up to `worker_threads` of them. For CPU-bound ones it does: a claimed workflow beyond what the
core can start soon only waits here while another worker may have a free core, and many
threads sharing the GIL finish together and leave the core idle while the next claim is under
way. So while the process keeps its core busy, CpuBudget holds only ~`horizon` seconds of
their CPU and RunGate runs `floor` of them at a time, the rest queued in arrival order.
"""

from __future__ import annotations

import collections
import threading
import time


class CpuBudget:
    """What this process's workflows cost in CPU (exponential average of each one's thread
    CPU) and how busy the process is; from both, how many workflows to hold and to run. Ten
    5 ms CPU-bound workflows held with the default 50 ms horizon."""

    def __init__(self, horizon: float = 0.05, busy: float = 0.6, floor: int = 2,
                 window: float = 0.5, alpha: float = 0.2, heavy: float = 0.001) -> None:
        self.horizon, self.busy, self.floor, self.window, self.alpha = horizon, busy, floor, window, alpha
        self.heavy = heavy  # seconds of CPU per workflow from which running ones are gated
        self.cpu: float | None = None  # seconds of thread CPU per workflow
        self._lock = threading.Lock()
        self._mark = (time.monotonic(), time.process_time())
        self._load = 0.0

    def record(self, cpu: float) -> None:
        with self._lock:
            self.cpu = cpu if self.cpu is None else self.cpu + self.alpha * (cpu - self.cpu)

    def load(self) -> float:
        """This process's CPU use over the last `window` seconds, as a fraction of one core."""
        now = time.monotonic()
        if now - self._mark[0] < self.window:  # the hot path: no lock, no CPU-clock syscall
            return self._load
        cpu = time.process_time()
        with self._lock:
            wall = now - self._mark[0]
            if wall >= self.window:
                self._load = (cpu - self._mark[1]) / wall
                self._mark = (now, cpu)
            return self._load

    def cpu_bound(self) -> float | None:
        """The average CPU per workflow while this process keeps its core busy, else None."""
        cpu = self.cpu
        if cpu is None or cpu <= 0 or self.load() < self.busy:
            return None
        return cpu

    def limit(self, capacity: int) -> int:
        """How many workflows to hold (claimed and not finished)."""
        cpu = self.cpu_bound()
        if cpu is None:
            return capacity
        return max(min(self.floor, capacity), min(capacity, int(self.horizon / cpu)))

    def running_limit(self) -> int | None:
        """How many held workflows may run at once: `floor` for CPU-bound work (more threads
        sharing the GIL finish their batch together, and the core idles while the next claim
        is under way; a short queue staggers them), None (no limit) otherwise."""
        cpu = self.cpu_bound()
        return self.floor if cpu is not None and cpu >= self.heavy else None


class RunGate:
    """Admits held workflows to run, at most CpuBudget.running_limit() at a time, in arrival
    order. The limit is re-read every `recheck` seconds while waiting, so work that stops
    being CPU-bound (or blocks: the process's load drops) is let through."""

    def __init__(self, budget: CpuBudget, recheck: float = 0.05) -> None:
        self.budget, self.recheck = budget, recheck
        self._cond = threading.Condition()
        self._line: collections.deque[object] = collections.deque()
        self.running = 0

    def enter(self) -> None:
        with self._cond:
            if not self._line and self.budget.running_limit() is None:
                self.running += 1
                return
            me = object()
            self._line.append(me)
            try:
                while True:
                    limit = self.budget.running_limit()
                    if limit is None or (self._line[0] is me and self.running < limit):
                        break
                    self._cond.wait(self.recheck)
            finally:
                self._line.remove(me)
            self.running += 1
            self._cond.notify_all()  # the next in line may fit too

    def exit(self) -> None:
        with self._cond:
            self.running -= 1
            self._cond.notify_all()

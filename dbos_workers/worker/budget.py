"""CPU-aware concurrency of a worker process.

Python runs one thread at a time (the GIL), so a worker process cannot use more than one core
on workflow code. For I/O-bound or tiny workflows that changes nothing: a worker holds and runs
up to `worker_threads` of them. For CPU-bound ones it does: a claimed workflow beyond what the
core can start soon only waits here while another worker may have a free core. So while the
process keeps its core busy, CpuBudget has it hold only ~`horizon` seconds of their CPU.
"""

from __future__ import annotations

import threading
import time

LINGER_MIN_CPU = 0.0005  # seconds of CPU per workflow
MAX_LINGER = 0.02  # seconds


class CpuBudget:
    """What this process's workflows cost in CPU (exponential average of each one's thread
    CPU) and how busy the process is; from both, how many workflows to hold: thirty 5 ms
    CPU-bound workflows with the default 150 ms horizon. The horizon must outlast a claim's
    round trip, which behind CPU-bound threads waiting on the GIL took 25 ms (p50) to 60 ms
    (p99) on 2 cores; with 50 ms a worker ran out of work in ~12 % of samples."""

    def __init__(self, horizon: float = 0.15, busy: float = 0.6, floor: int = 2,
                 window: float = 0.5, alpha: float = 0.2) -> None:
        self.horizon, self.busy, self.floor, self.window, self.alpha = horizon, busy, floor, window, alpha
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

    def gather_sec(self, default: float) -> float:
        """How long the claim loop may wait for a quarter of the slots to free up once one has:
        a quarter of the horizon for CPU-bound workflows (three quarters of it still runs)."""
        return default if self.cpu_bound() is None else max(default, self.horizon / 4)

    def linger(self, capacity: int) -> float:
        """How long the outcome writer lets a batch gather before its commit: 0 unless this
        process is busy with workflows of at least LINGER_MIN_CPU each, whose finishes come
        one by one and would each wake the writer (and take the GIL from the ones running).
        Bounded so the outcomes waiting hold at most a quarter of the slots."""
        cpu = self.cpu_bound()
        if cpu is None or cpu < LINGER_MIN_CPU:
            return 0.0
        return min(MAX_LINGER, capacity * cpu / 4)

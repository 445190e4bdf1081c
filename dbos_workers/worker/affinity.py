"""Pin a worker process to one CPU.

Under the GIL a worker runs Python on one core at a time, so pinning costs it nothing, and it
saves a lot: unpinned, every GIL hand-off between a worker's threads could wake the next
thread on the other, idle core (hundreds of microseconds out of a deep idle state on a VM)
and the scheduler let both workers' threads pile onto one core while the other idled.
Measured on 2 cores (bench/README.md): the host idled 0.19 core-seconds instead of 3.06
during a 3,000-workflow CPU-bound burn-down, and 0-, 1- and 3-step burn-downs ran 15-40 %
faster. Slot i takes the i-th CPU this process may use (taskset and cpusets are honoured),
round robin when there are more workers than CPUs.

By default ("auto") a pool pins only when it has a worker for every usable CPU: a smaller pool
leaves cores to something else on the host, and two small pools pinned independently could
both land on the first CPU.
"""

from __future__ import annotations

import contextlib
import os


def pin_worker(slot: int, workers: int, mode: bool | None) -> int | None:
    """Pin every thread of this process to the slot's CPU; returns it, or None when it does
    not pin: mode False, mode None ("auto") with fewer workers than usable CPUs, one usable
    CPU, or no sched_setaffinity on this platform."""
    if mode is False or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2 or (mode is None and workers < len(allowed)):
        return None
    cpu = allowed[slot % len(allowed)]
    for tid in _threads():
        with contextlib.suppress(OSError):  # a thread that just ended
            os.sched_setaffinity(tid, {cpu})
    return cpu


def _threads() -> list[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]  # the calling thread

"""The executor threads (ThreadPool) and the workflow CancelFlag."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from dbos_workers.context import CancelFlag
from dbos_workers.threads import ThreadPool


def test_runs_every_item_with_at_most_size_threads() -> None:
    pool = ThreadPool(4, "t")
    lock, seen, running, peak = threading.Lock(), [], [0], [0]
    done = threading.Semaphore(0)

    def item(i: int) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1
            seen.append((i, threading.current_thread().name))
        done.release()

    for i in range(100):
        pool.submit(item, i)
    for _ in range(100):
        assert done.acquire(timeout=10)
    assert sorted(i for i, _ in seen) == list(range(100))
    assert peak[0] == 4
    assert len({name for _, name in seen}) == 4
    pool.shutdown(wait=True)


def test_blocked_items_get_their_own_threads() -> None:
    """Items that wait on each other (a parent awaiting a child) must not starve while threads
    are free: each of `size` concurrent items gets a thread."""
    pool = ThreadPool(8, "t")
    barrier = threading.Barrier(8, timeout=5)
    results: list[int] = []
    for i in range(8):
        pool.submit(lambda i=i: (barrier.wait(), results.append(i)))
    deadline = time.monotonic() + 5
    while len(results) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(results) == list(range(8))
    pool.shutdown(wait=True)


def test_shutdown_drops_pending_and_refuses_new_items() -> None:
    pool = ThreadPool(1, "t")
    release, ran = threading.Event(), []
    pool.submit(release.wait, 5)
    for i in range(5):
        pool.submit(ran.append, i)
    pool.shutdown(wait=False, cancel_pending=True)
    release.set()
    pool.shutdown(wait=True)
    assert ran == []
    with pytest.raises(RuntimeError):
        pool.submit(ran.append, 1)


def test_a_failing_item_does_not_kill_its_thread() -> None:
    pool = ThreadPool(1, "t")
    out: list[int] = []
    pool.submit(lambda: 1 / 0)
    pool.submit(out.append, 7)
    pool.shutdown(wait=True, cancel_pending=False)
    assert out == [7]


def test_interpreter_exit_waits_for_queued_items() -> None:
    code = ("import os, time; from dbos_workers.threads import ThreadPool\n"
            "p = ThreadPool(2, 't')\n"
            "for i in range(4): p.submit(lambda i=i: (time.sleep(0.05), os.write(1, b'done %d\\n' % i)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.split("\n")[:4]) == [f"done {i}" for i in range(4)]


def test_cancel_flag_set_before_and_during_wait() -> None:
    flag = CancelFlag()
    assert not flag.is_set() and flag.wait(0.01) is False
    t = threading.Timer(0.05, flag.set)
    t.start()
    started = time.monotonic()
    assert flag.wait(5) is True
    assert time.monotonic() - started < 2
    assert flag.is_set() and flag.wait(0) is True
    other = CancelFlag()
    other.set()
    assert other.wait(5) is True


def test_pool_threads_carry_their_name_at_the_os_level() -> None:
    """top -H / perf / py-spy show dbw-exec-N for the executor's threads (Linux, as CI)."""
    pool = ThreadPool(2, "test")
    seen: list[str] = []
    done = threading.Event()

    def read_comm() -> None:
        with open("/proc/thread-self/comm") as f:
            seen.append(f.read().strip())
        done.set()

    pool.submit(read_comm)
    assert done.wait(5)
    pool.shutdown(wait=True)
    assert seen == ["dbw-exec-0"]

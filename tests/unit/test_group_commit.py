"""GroupCommit: every submitted item is flushed exactly once, its caller gets its own result
only after its batch's flush returned, failures reach exactly the callers of that batch, and
concurrent callers share flushes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from dbos_workers.groupcommit import GroupCommit


class Recorder:
    def __init__(self, fail_on: int | None = None, delay: threading.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.flushed: set[int] = set()
        self.fail_on, self.delay = fail_on, delay
        self.lock = threading.Lock()
        self.entered = threading.Event()  # a flush has begun

    def __call__(self, items: list[int]) -> list[int]:
        self.entered.set()
        if self.delay is not None:
            self.delay.wait(5)
        with self.lock:
            self.batches.append(list(items))
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"batch with {self.fail_on}")
        with self.lock:
            self.flushed.update(items)
        return [i * 10 for i in items]


def _queue_behind_a_flush(gc: GroupCommit[int, int], rec: Recorder, n: int,
                          call: Callable[[int], None]) -> list[threading.Thread]:
    """Start a flush of [-1] that blocks in rec.delay, then n callers; returns once all n wait
    in the queue (the caller releases rec.delay). Threads: the first caller, then the n."""
    first = threading.Thread(target=gc.submit, args=(-1,))
    first.start()
    assert rec.entered.wait(5)
    others = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in others:
        t.start()
    deadline = time.monotonic() + 5
    while len(gc._pending) < n:
        assert time.monotonic() < deadline, f"only {len(gc._pending)} of {n} queued"
        time.sleep(0.001)
    return [first, *others]


def _run_threads(gc: GroupCommit[int, int], items: list[int]) -> dict[int, object]:
    out: dict[int, object] = {}
    barrier = threading.Barrier(len(items))

    def call(i: int) -> None:
        barrier.wait()
        try:
            out[i] = gc.submit(i)
        except ValueError as exc:
            out[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads), "a submitter never returned"
    return out


def test_each_item_flushed_once_with_its_own_result() -> None:
    rec = Recorder()
    gc: GroupCommit[int, int] = GroupCommit(rec)
    out = _run_threads(gc, list(range(200)))
    assert out == {i: i * 10 for i in range(200)}
    flat = [i for b in rec.batches for i in b]
    assert sorted(flat) == list(range(200))  # once each


def _submit_behind_a_flush(n: int, max_batch: int = 256) -> Recorder:
    """n callers queue behind a blocked flush, which is then released; each gets its result."""
    gate = threading.Event()
    rec = Recorder(delay=gate)
    gc: GroupCommit[int, int] = GroupCommit(rec, max_batch=max_batch)
    results: dict[int, int] = {}
    threads = _queue_behind_a_flush(gc, rec, n, lambda i: results.__setitem__(i, gc.submit(i)))
    gate.set()
    for t in threads:
        t.join(5)
    assert results == {i: i * 10 for i in range(n)}
    return rec


def test_callers_arriving_during_a_flush_share_the_next_one() -> None:
    rec = _submit_behind_a_flush(50)
    assert rec.batches[0] == [-1]
    assert sorted(rec.batches[1]) == list(range(50))  # one flush for all fifty
    assert len(rec.batches) == 2


def test_max_batch_is_honoured_and_overflow_still_completes() -> None:
    rec = _submit_behind_a_flush(30, max_batch=7)
    assert max(len(b) for b in rec.batches) <= 7
    assert sorted(i for b in rec.batches[1:] for i in b) == list(range(30))


def test_a_failed_flush_fails_exactly_its_batch() -> None:
    gate = threading.Event()
    rec = Recorder(fail_on=3, delay=gate)
    gc: GroupCommit[int, int] = GroupCommit(rec)
    out: dict[int, object] = {}

    def call(i: int) -> None:
        try:
            out[i] = gc.submit(i)
        except ValueError as exc:
            out[i] = exc

    threads = _queue_behind_a_flush(gc, rec, 10, call)
    gate.set()
    for t in threads:
        t.join(5)
    assert all(isinstance(out[i], ValueError) for i in range(10))  # all ten shared the failed flush
    assert rec.flushed == {-1}
    # The next caller is not poisoned by the failure.
    rec.fail_on = None
    assert gc.submit(42) == 420


def test_sequential_callers_each_get_their_own_flush_and_result() -> None:
    rec = Recorder()
    gc: GroupCommit[int, int] = GroupCommit(rec)
    assert [gc.submit(i) for i in range(3)] == [0, 10, 20]
    assert rec.batches == [[0], [1], [2]]
    with pytest.raises(ValueError):
        GroupCommit(Recorder(fail_on=5)).submit(5)


def test_nowait_calls_back_after_the_commit_with_the_failure_if_any() -> None:
    gate = threading.Event()
    rec = Recorder(fail_on=4, delay=gate)
    gc: GroupCommit[int, int] = GroupCommit(rec)
    got: dict[int, BaseException | None] = {}
    all_done = threading.Semaphore(0)

    def then(i: int) -> Callable[[BaseException | None], None]:
        def cb(failure: BaseException | None) -> None:
            assert i in rec.batches[-1]  # called after its own batch's flush
            got[i] = failure
            all_done.release()
        return cb

    for i in range(3):
        gc.submit_nowait(i, then(i))  # returns at once, although the flush is blocked
    assert got == {}
    gate.set()
    for _ in range(3):
        assert all_done.acquire(timeout=5)
    assert got == {0: None, 1: None, 2: None} and rec.flushed == {0, 1, 2}
    gc.submit_nowait(4, then(4))
    assert all_done.acquire(timeout=5)
    assert isinstance(got[4], ValueError)


def test_close_writes_what_is_pending_then_refuses() -> None:
    gate = threading.Event()
    rec = Recorder(delay=gate)
    gc: GroupCommit[int, int] = GroupCommit(rec)
    for i in range(5):
        gc.submit_nowait(i, lambda failure: None)
    threading.Timer(0.05, gate.set).start()
    assert gc.close(timeout=5) is True
    assert rec.flushed == set(range(5))
    with pytest.raises(RuntimeError):
        gc.submit(9)


def test_linger_gathers_items_submitted_one_by_one_into_one_batch() -> None:
    """With a linger (a CPU-busy worker), writes that arrive one at a time within it share one
    flush instead of waking the flusher once each; without it each gets its own flush."""
    for linger, batches in ((0.5, 1), (0.0, 5)):
        rec = Recorder()
        gc: GroupCommit[int, int] = GroupCommit(rec)
        gc.linger = lambda linger=linger: linger  # type: ignore[misc]
        done = threading.Semaphore(0)
        started = time.monotonic()
        for i in range(5):
            gc.submit_nowait(i, lambda _f, done=done: done.release())  # type: ignore[misc]
            if not linger:  # let each flush finish before the next write
                assert done.acquire(timeout=5)
        for _ in range(5 if linger else 0):
            assert done.acquire(timeout=5)
        assert len(rec.batches) == batches, rec.batches
        assert rec.flushed == set(range(5))
        if linger:  # the batch waited for the linger, not longer than a few of them
            assert 0.5 <= time.monotonic() - started < 3.0
        assert gc.close(5)

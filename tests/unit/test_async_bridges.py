"""The thread-to-loop bridges (no database): a LoopWake set from another thread wakes its
coroutine, an AsyncCancelFlag wakes what a workflow awaits, a group commit's result reaches
an awaiting coroutine (and its failure), and the in-flight ledger counts loop entries apart
from thread slots."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from dbos_workers.aio.wake import AsyncCancelFlag, LoopWake, cancellable_sleep, committed, install_flag
from dbos_workers.context import WorkflowContext
from dbos_workers.groupcommit import GroupCommit
from dbos_workers.inflight import InFlight


def test_loop_wake_set_from_a_thread_wakes_the_coroutine() -> None:
    async def main() -> tuple[bool, float, bool]:
        wake = LoopWake()
        threading.Timer(0.05, wake.set).start()
        began = time.monotonic()
        woken = await wake.wait_async(30)
        took = time.monotonic() - began
        wake.clear()
        return woken, took, await wake.wait_async(0.01)

    woken, took, again = asyncio.run(main())
    assert woken and took < 10 and again is False


def test_cancel_flag_wakes_a_cancellable_sleep_and_stays_set() -> None:
    ctx = WorkflowContext(workflow_id="w", owner_token="t", name="n", recorded={})
    ctx.cancelled.set()  # set before the flag is installed: carried over
    flag = install_flag(WorkflowContext(workflow_id="w2", owner_token="t", name="n", recorded={}))
    assert isinstance(flag, AsyncCancelFlag) and not flag.is_set()
    assert install_flag(ctx).is_set()

    async def main() -> tuple[bool, float]:
        fresh = WorkflowContext(workflow_id="w3", owner_token="t", name="n", recorded={})
        install_flag(fresh)
        threading.Timer(0.05, fresh.cancelled.set).start()
        began = time.monotonic()
        cancelled = await cancellable_sleep(fresh, 30)
        return cancelled, time.monotonic() - began

    cancelled, took = asyncio.run(main())
    assert cancelled and took < 10


def test_committed_awaits_the_flushers_result_and_failure() -> None:
    batches: list[list[int]] = []

    def flush(items: list[int]) -> list[int]:
        if -1 in items:
            raise RuntimeError("write failed")
        batches.append(items)
        return [i * 10 for i in items]

    writer: GroupCommit[int, int] = GroupCommit(flush, name="test-writer")

    async def main() -> list[int]:
        results = await asyncio.gather(*(committed(writer, i) for i in range(20)))
        with pytest.raises(RuntimeError, match="write failed"):
            await committed(writer, -1)
        return list(results)

    try:
        assert asyncio.run(main()) == [i * 10 for i in range(20)]
    finally:
        writer.close(5.0)
    assert sorted(i for b in batches for i in b) == list(range(20))


def test_ledger_counts_loop_entries_apart_from_thread_slots() -> None:
    ledger = InFlight()
    ledger.claimed("t1", "q")
    for i in range(5):
        ledger.claimed(f"a{i}", "q", on_loop=True)
    ledger.attach(WorkflowContext(workflow_id="a9", owner_token="t", name="n", recorded={}), on_loop=True)
    assert ledger.counts() == (1, 1) and ledger.on_loop() == 6 and len(ledger) == 7
    assert ledger.held_in("q") == 6
    ledger.ran("a0")
    ledger.release("a0")
    ledger.release("a9")
    ledger.release("t1")
    assert ledger.counts() == (0, 0) and ledger.on_loop() == 4

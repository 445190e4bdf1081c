"""Bridges from threads to a loop: a waiter event the listener thread sets, a cancel flag
that wakes awaiting workflows, and awaiting a group-committed write without blocking."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from ..context import CancelFlag, WorkflowContext
from ..groupcommit import GroupCommit

I = TypeVar("I")  # noqa: E741
R = TypeVar("R")


class LoopWake(threading.Event):
    """A threading.Event (what Waiters set from the listener thread) whose set() also wakes
    an awaiting coroutine on the loop that made it."""

    def __init__(self) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._async = asyncio.Event()

    def set(self) -> None:
        super().set()
        with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._async.set)

    def clear(self) -> None:
        super().clear()
        self._async.clear()

    async def wait_async(self, timeout: float | None) -> bool:
        """Until set or timeout seconds (never blocking the loop); True when set."""
        if self.is_set():
            return True
        try:
            async with asyncio.timeout(None if timeout is None else max(0.0, timeout)):
                await self._async.wait()
        except TimeoutError:
            return self.is_set()
        return True


class AsyncCancelFlag(CancelFlag):
    """The cancel flag of an async workflow: set() (from any thread: the listener's `x:`, a
    local cancel, a deadline) also wakes whatever the workflow awaits."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        super().__init__()
        self._listeners: set[threading.Event] = set()

    def set(self) -> None:
        super().set()
        for listener in list(self._listeners):
            listener.set()

    @contextlib.contextmanager
    def wakes(self, event: threading.Event) -> Iterator[threading.Event]:
        """While inside, a cancellation sets `event` too."""
        self._listeners.add(event)
        if self.is_set():
            event.set()
        try:
            yield event
        finally:
            self._listeners.discard(event)


def install_flag(ctx: WorkflowContext) -> AsyncCancelFlag:
    """Give an async workflow's context an AsyncCancelFlag (before anyone can find it)."""
    flag = ctx.cancelled if isinstance(ctx.cancelled, AsyncCancelFlag) else AsyncCancelFlag()
    if ctx.cancelled.is_set():
        flag.set()
    ctx.cancelled = flag
    return flag


async def cancellable_sleep(ctx: WorkflowContext | None, seconds: float) -> bool:
    """Sleep seconds; True when the workflow was cancelled meanwhile (then at once)."""
    if ctx is None or not isinstance(ctx.cancelled, AsyncCancelFlag):
        await asyncio.sleep(seconds)
        return False
    wake = LoopWake()
    with ctx.cancelled.wakes(wake):
        return await wake.wait_async(seconds)


async def committed(writer: GroupCommit[I, R], item: I) -> R:
    """The group commit's result for item, awaited: the flusher thread resolves a loop future
    (asyncio never blocks on the commit; the write shares the flusher's next statement)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[R] = loop.create_future()

    def resolve(result: R | None, failure: BaseException | None) -> None:
        if future.done():
            return
        if failure is not None:
            future.set_exception(failure)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def done(result: R | None, failure: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(resolve, result, failure)

    writer.submit_then(item, done)
    return await future


Waker = Callable[[], None]

"""The per-process async state (Runtime.aio): the async system database (one
AsyncConnectionPool per loop) and, in a process that runs queued async workflows, its one
event-loop thread. A service of the runtime: stop() cancels what still runs on the loop
(drained work was handed back before), closes the loop's pool and ends the thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import structlog

from ..db.aiorepo import AsyncRepository
from ..db.aiostores import AsyncSystemDatabase
from ..db.queries import load_queries
from ..osname import name_thread

if TYPE_CHECKING:
    from ..runtime import Runtime

log = structlog.get_logger("dbos_workers.aio")


class LoopThread:
    """One asyncio loop on a named daemon thread, started on first use (after any fork)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._closed = False

    def ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: cannot submit after shutdown")
            if self.loop is None or self._pid != os.getpid():
                ready = threading.Event()
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._main, args=(loop, ready),
                                                name=self.name, daemon=True)
                self._thread.start()
                ready.wait(10.0)
                self.loop, self._pid = loop, os.getpid()
            return self.loop

    def _main(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        name_thread()
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.ensure())

    @property
    def started(self) -> bool:
        return self.loop is not None and self._pid == os.getpid()

    def stop(self, timeout: float, last: Coroutine[Any, Any, Any]) -> bool:
        """Cancel the loop's tasks, run `last` on it, stop it and join the thread."""
        with self._lock:
            self._closed = True
        loop, thread = self.loop, self._thread
        if loop is None or thread is None or not self.started:
            last.close()
            return True

        async def finish() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=max(0.1, timeout / 2))
            await last

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(finish(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self.loop = self._thread = None
        return not thread.is_alive()


class AioState:
    """Runtime.aio. Nothing here connects or starts a thread until async code runs."""

    name = "asyncio-loop"

    def __init__(self, rt: Runtime) -> None:
        s = rt.settings
        queries = {k: v.encode() for k, v in load_queries().items()}
        self.repo = AsyncRepository(rt.conninfo, schema=s.schema, queries=queries,
                                    pool_size=max(4, min(16, rt.pool_size)),
                                    app_name=f"dbos_workers:{rt.role}:async")
        self.db = AsyncSystemDatabase(self.repo, s.channel, rt.clock)
        self.loop = LoopThread(f"dbos-{rt.role}-loop")
        self.tasks: set[asyncio.Task[Any]] = set()  # detached runs on callers' loops

    def start(self) -> None:
        """The loop starts on first use; the pools open on first query."""

    def stop(self, timeout: float) -> bool:
        ok = self.loop.stop(timeout, self.repo.close_here())
        self.repo.close()
        return ok

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task on the running loop, referenced until it ends (start_workflow_async)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

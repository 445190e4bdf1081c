"""The executor threads (a thread pool, not the database pool): a fixed number of threads
taking (function, args) items from one queue. No futures: nobody reads a workflow's result
from the pool (outcomes go to the database), and concurrent.futures' Future + Condition per
item cost ~12 us of CPU per workflow, a tenth of a plain workflow's Python time.

Threads start on demand, up to `size`. Like concurrent.futures, interpreter exit waits for
queued and running items (a script that starts a workflow and returns still finishes it)."""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

import structlog

from .osname import name_thread

log = structlog.get_logger("dbos_workers.threads")
_Item = tuple[Callable[..., Any], tuple[Any, ...]] | None
_live: weakref.WeakSet[ThreadPool] = weakref.WeakSet()


class ThreadPool:
    """Service contract: start() is a no-op (threads start on demand); stop() drops what has
    not started and does not wait for running items (their workflows are handed back)."""

    def __init__(self, size: int, name: str) -> None:
        self.size, self.name = max(1, size), name
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads in (or about to enter) get()
        self._waiting = 0  # items put and not yet taken
        self._closed = False
        _live.add(self)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: cannot submit after shutdown")
            self._queue.put((fn, args))
            self._waiting += 1
            if self._waiting > self._idle and len(self._threads) < self.size:
                t = threading.Thread(target=self._run, name=f"dbos-exec-{len(self._threads)}")
                self._threads.append(t)
                self._idle += 1
                t.start()

    def _run(self) -> None:
        name_thread()
        while True:
            item = self._queue.get()
            with self._lock:
                self._idle -= 1
                if item is not None:
                    self._waiting -= 1
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except BaseException as exc:  # callers record their own failures: this is a bug
                log.error("pool_item_failed", pool=self.name, error=repr(exc)[:300])
            del item, fn, args
            with self._lock:
                self._idle += 1

    def start(self) -> None:
        """Threads start on demand, up to size."""

    def stop(self, timeout: float = 0.0) -> bool:
        self.shutdown(wait=False, cancel_pending=True)
        return True

    def shutdown(self, wait: bool = False, cancel_pending: bool = True) -> None:
        """Stop taking work; with cancel_pending, items not yet started are dropped."""
        with self._lock:
            self._closed = True
            if cancel_pending:
                while True:
                    try:
                        if self._queue.get_nowait() is not None:
                            self._waiting -= 1
                    except queue.Empty:
                        break
            threads = list(self._threads)
            for _ in threads:
                self._queue.put(None)
        if wait:
            me = threading.current_thread()
            for t in threads:
                if t is not me:
                    t.join()


def _at_interpreter_exit() -> None:
    for pool in list(_live):
        pool.shutdown(wait=True, cancel_pending=False)


# Runs before atexit handlers, as concurrent.futures' own hook does.
_register = getattr(threading, "_register_atexit", None)
if _register is not None:
    _register(_at_interpreter_exit)

"""Engines per process: no engine and no connection of one process is used by another.

A datasource is usually created at import, in the app process, before DBOS.launch() forks the
supervisor and its workers. Its engine is made lazily, at the first use in each process: a
forked worker makes its own. An engine (or pool) that a child inherited is set aside unused
and kept referenced, so its connections, which belong to the parent, are never used, closed
or finalized in the child (closing an inherited libpq connection would end the parent's
session). A user-supplied engine gets a fresh pool in the child (`dispose(close=False)`, as
SQLAlchemy documents for fork).
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

E = TypeVar("E", sa.Engine, AsyncEngine)
_holders: weakref.WeakSet[Any] = weakref.WeakSet()
_inherited: list[Any] = []  # engines and pools of a parent process: referenced, never touched


def _sync_of(engine: sa.Engine | AsyncEngine) -> sa.Engine:
    return engine.sync_engine if isinstance(engine, AsyncEngine) else engine


class EngineHolder(Generic[E]):
    """The engine of this process for one datasource (made by `make`, or the user's)."""

    def __init__(self, make: Callable[[], E] | None, given: E | None = None) -> None:
        self._make: Callable[[], E] | None = make
        self._given: E | None = given
        self._engine: E | None = given
        self._pid = os.getpid()
        self._lock = threading.Lock()
        _holders.add(self)

    def get(self) -> E:
        engine = self._engine
        if engine is not None and self._pid == os.getpid():
            return engine
        with self._lock:
            if self._pid != os.getpid():
                self.after_fork()
            if self._engine is None:
                assert self._make is not None
                self._engine = self._make()
            return self._engine

    def made(self) -> bool:
        """Whether this process holds an engine (tests: nothing was made before a fork)."""
        return self._engine is not None and self._pid == os.getpid()

    def after_fork(self) -> None:
        """In a forked child: set the parent's engine (or pool) aside; make our own later."""
        self._lock = threading.Lock()
        self._pid = os.getpid()
        engine = self._engine
        if engine is None:
            return
        if self._given is None:
            _inherited.append(engine)
            self._engine = None
        else:
            sync = _sync_of(engine)
            _inherited.append(sync.pool)
            sync.dispose(close=False)

    def dispose(self) -> None:
        """Close this process's pooled connections (DBOS.destroy); a new engine comes lazily."""
        with self._lock:
            engine = self._engine
            if engine is None or self._pid != os.getpid():
                return
            _sync_of(engine).dispose()
            if self._given is None:
                self._engine = None


def _after_fork_in_child() -> None:
    for holder in list(_holders):
        holder.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class LoopEngines:
    """Async engines: one per event loop of this process (an asyncio connection belongs to
    the loop that opened it). From sync code each `asyncio.run` is a new loop, so it opens new
    connections; a long-lived loop (async workflows, later) reuses its engine."""

    def __init__(self, make: Callable[[], AsyncEngine] | None, given: AsyncEngine | None) -> None:
        self._make, self._given = make, given
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncEngine] = (
            weakref.WeakKeyDictionary())
        self._pid = os.getpid()
        if given is not None:
            self._holder: EngineHolder[AsyncEngine] | None = EngineHolder(None, given)
        else:
            self._holder = None
        _holders.add(self)

    def get(self) -> AsyncEngine:
        if self._holder is not None:
            return self._holder.get()
        if self._pid != os.getpid():
            self.after_fork()
        loop = asyncio.get_running_loop()
        engine = self._by_loop.get(loop)
        if engine is None:
            assert self._make is not None
            engine = self._by_loop[loop] = self._make()
        return engine

    def after_fork(self) -> None:
        self._pid = os.getpid()
        _inherited.extend(self._by_loop.values())
        self._by_loop = weakref.WeakKeyDictionary()

    def dispose(self) -> None:
        if self._holder is not None:
            self._holder.dispose()
            return
        for engine in list(self._by_loop.values()):
            engine.sync_engine.dispose(close=False)
        self._by_loop = weakref.WeakKeyDictionary()

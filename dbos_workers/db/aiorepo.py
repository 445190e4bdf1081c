"""The async twin of the repository seam: the same named queries over psycopg's
AsyncConnection, the same error translation and connection-loss retry (awaited, never
blocking the loop).

One small pool per event loop (`LoopPool`): connections belong to the loop that opened them
(the worker's loop thread, or the caller's loop for direct calls). It runs no background
task: psycopg_pool's AsyncConnectionPool keeps a scheduler task whose `wait_for` can swallow
the cancellation that `asyncio.run` sends at loop teardown (Python 3.11), which then waits
for it forever (seen under load); a pool without tasks leaves nothing to cancel."""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import structlog
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.rows import dict_row

from ..errors import DBOSNotLaunchedError
from .arrays import bind
from .repository import _RETRYABLE, SESSION_SETUP, Backoff, RollbackSignal, compose, mask_url, translate

Row = dict[str, Any]
Conn = psycopg.AsyncConnection[Row]
T = TypeVar("T")
log = structlog.get_logger("dbos_workers.db.aio")
CONNECT_TIMEOUT_SEC = 10


class AsyncTx:
    """Named-query runner bound to one async connection (inside a transaction)."""

    def __init__(self, conn: Conn, queries: dict[str, bytes]) -> None:
        self._conn, self._queries = conn, queries

    async def one(self, name: str, /, **params: Any) -> Row | None:
        cur = await self._conn.execute(self._queries[name], bind(params))
        return await cur.fetchone()

    async def all(self, name: str, /, **params: Any) -> list[Row]:
        cur = await self._conn.execute(self._queries[name], bind(params))
        return await cur.fetchall()


class LoopPool:
    """Up to max_size connections of one loop: idle ones are reused, a broken one is
    dropped, and a caller waits (on the loop) for a free one."""

    def __init__(self, connect: Callable[[], Awaitable[Conn]], max_size: int) -> None:
        self._connect, self._slots = connect, asyncio.Semaphore(max_size)
        self.idle: list[Conn] = []

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with self._slots:
            conn = self.idle.pop() if self.idle else await self._connect()
            broken = True
            try:
                yield conn
                broken = False
            except Exception as exc:  # a query's own error leaves the connection usable
                broken = isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
                raise
            finally:  # (cancelled mid-query: not idle, dropped)
                if broken or conn.closed or conn.info.transaction_status != pq.TransactionStatus.IDLE:
                    await _discard(conn)
                else:
                    self.idle.append(conn)

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            await _discard(conn)

    def abandon(self) -> None:
        """Its loop has ended: close the idle connections' sockets without it."""
        idle, self.idle = self.idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.pgconn.finish()


async def _discard(conn: Conn) -> None:
    with contextlib.suppress(Exception):
        await conn.close()


class AsyncRepository:
    """Runs named queries on this loop's pool (made on first use)."""

    def __init__(self, conninfo: str, *, schema: str, queries: dict[str, bytes], pool_size: int,
                 app_name: str, retry_total_sec: float = 60.0) -> None:
        self.conninfo, self.schema, self.pool_size = conninfo, schema, pool_size
        self.app_name, self.retry_total_sec = app_name, retry_total_sec
        self._queries = queries
        self._search_path = compose("SET search_path TO {schema}", schema=schema)
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopPool] = \
            weakref.WeakKeyDictionary()
        self.closed = False

    async def _open(self) -> Conn:
        conn = await psycopg.AsyncConnection.connect(
            self.conninfo, autocommit=True, row_factory=dict_row, application_name=self.app_name,
            connect_timeout=CONNECT_TIMEOUT_SEC)
        try:
            await conn.execute(self._search_path)
            for name in SESSION_SETUP:
                await conn.execute(self._queries[name])
        except BaseException:
            await _discard(conn)
            raise
        return conn

    def _pool(self) -> LoopPool:
        if self.closed:
            raise DBOSNotLaunchedError("DBOS was destroyed: its connection pools are closed")
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            for ended in [lp for lp in list(self._pools) if lp.is_closed()]:
                self._pools.pop(ended).abandon()
            pool = self._pools[loop] = LoopPool(self._open, self.pool_size)
        return pool

    async def call(self, fn: Callable[[AsyncTx], Awaitable[T]], *, transaction: bool = False,
                   retry: bool = True) -> T:
        """Run fn(tx) on a connection of this loop; retry connection failures."""
        backoff = Backoff(total=self.retry_total_sec)
        while True:
            try:
                async with self._pool().connection() as conn:
                    tx = AsyncTx(conn, self._queries)
                    if not transaction:
                        return await fn(tx)
                    try:
                        async with conn.transaction():
                            return await fn(tx)
                    except RollbackSignal as signal:
                        return signal.value  # type: ignore[no-any-return]
            except _RETRYABLE as exc:
                if isinstance(exc, psycopg.OperationalError) and not isinstance(
                        exc, pg_errors.DeadlockDetected | pg_errors.SerializationFailure):
                    await self._discard_idle()
                delay = backoff.delay
                if not retry or not _advance(backoff):
                    raise translate(exc) from None
                log.warning("database_retry", error=mask_url(str(exc))[:200])
                await asyncio.sleep(delay)
            except psycopg.Error as exc:
                raise translate(exc) from None

    async def _discard_idle(self) -> None:
        """After a connection error the loop's idle connections are likely dead too (server
        restart, network cut): drop them instead of failing on each in turn."""
        pool = self._pools.get(asyncio.get_running_loop())
        if pool is not None:
            await pool.close()

    async def one(self, name: str, /, **params: Any) -> Row | None:
        return await self.call(lambda tx: tx.one(name, **params))

    async def all(self, name: str, /, **params: Any) -> list[Row]:
        return await self.call(lambda tx: tx.all(name, **params))

    async def close_here(self) -> None:
        """Close this loop's connections (the loop thread at shutdown)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()

    def close(self) -> None:
        """No new connections; those of loops that ended are closed here, those of a loop
        still alive go with that loop (or close_here)."""
        self.closed = True
        for ended in [lp for lp in list(self._pools) if lp.is_closed()]:
            self._pools.pop(ended).abandon()


def _advance(backoff: Backoff) -> bool:
    """Backoff.wait without its sleep (the caller awaits asyncio.sleep instead)."""
    if time.monotonic() + backoff.delay > backoff.deadline:
        return False
    backoff.delay = min(backoff.cap, backoff.delay * 2)
    return True

"""The async twin of the repository seam: the same named queries over psycopg's
AsyncConnectionPool, the same error translation and connection-loss retry (awaited, never
blocking the loop). One pool per event loop: a pool's connections and tasks belong to the
loop that opened it (the worker's loop thread, or the caller's loop for direct calls)."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import psycopg_pool
import structlog
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from ..errors import DBOSNotLaunchedError
from .repository import _RETRYABLE, Backoff, RollbackSignal, compose, mask_url, translate

Row = dict[str, Any]
T = TypeVar("T")
log = structlog.get_logger("dbos_workers.db.aio")


class AsyncTx:
    """Named-query runner bound to one async connection (inside a transaction)."""

    def __init__(self, conn: psycopg.AsyncConnection[Row], queries: dict[str, bytes]) -> None:
        self._conn, self._queries = conn, queries

    async def one(self, name: str, /, **params: Any) -> Row | None:
        cur = await self._conn.execute(self._queries[name], params)
        return await cur.fetchone()

    async def all(self, name: str, /, **params: Any) -> list[Row]:
        cur = await self._conn.execute(self._queries[name], params)
        return await cur.fetchall()


class AsyncRepository:
    """Runs named queries on this loop's AsyncConnectionPool (made on first use)."""

    def __init__(self, conninfo: str, *, schema: str, queries: dict[str, bytes], pool_size: int,
                 app_name: str, retry_total_sec: float = 60.0) -> None:
        self.conninfo, self.schema, self.pool_size = conninfo, schema, pool_size
        self.app_name, self.retry_total_sec = app_name, retry_total_sec
        self._queries = queries
        self._search_path = compose("SET search_path TO {schema}", schema=schema)
        self._pools: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, psycopg_pool.AsyncConnectionPool[psycopg.AsyncConnection[Row]]
        ] = weakref.WeakKeyDictionary()
        self.closed = False

    async def _configure(self, conn: psycopg.AsyncConnection[Row]) -> None:
        await conn.execute(self._search_path)
        await conn.execute(self._queries["session_generic_plans"])
        await conn.execute(self._queries["session_no_jit"])

    async def _pool(self) -> psycopg_pool.AsyncConnectionPool[psycopg.AsyncConnection[Row]]:
        if self.closed:
            raise DBOSNotLaunchedError("DBOS was destroyed: its connection pools are closed")
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            self._forget_closed_loops()
            pool = psycopg_pool.AsyncConnectionPool(
                self.conninfo, min_size=1, max_size=self.pool_size, open=False, timeout=10.0,
                kwargs={"autocommit": True, "row_factory": dict_row, "application_name": self.app_name},
                configure=self._configure, name=f"dbos_workers-async-{self.schema}")
            self._pools[loop] = pool
            await pool.open(wait=False)
        return pool

    def _forget_closed_loops(self) -> None:
        """Pools of loops that have ended (asyncio.run returned) can no longer be closed by
        their loop: drop them and close their idle connections' sockets here."""
        for loop in [lp for lp in list(self._pools) if lp.is_closed()]:
            pool = self._pools.pop(loop, None)
            for conn in list(getattr(pool, "_pool", ())):
                with contextlib.suppress(Exception):
                    conn.pgconn.finish()

    async def call(self, fn: Callable[[AsyncTx], Awaitable[T]], *, transaction: bool = False,
                   retry: bool = True) -> T:
        """Run fn(tx) on a pooled connection of this loop; retry connection failures."""
        backoff = Backoff(total=self.retry_total_sec)
        while True:
            try:
                pool = await self._pool()
                async with pool.connection() as conn:
                    tx = AsyncTx(conn, self._queries)
                    if not transaction:
                        return await fn(tx)
                    try:
                        async with conn.transaction():
                            return await fn(tx)
                    except RollbackSignal as signal:
                        return signal.value  # type: ignore[no-any-return]
            except psycopg_pool.PoolClosed:
                raise DBOSNotLaunchedError("DBOS was destroyed: its connection pools are closed") from None
            except _RETRYABLE as exc:
                if isinstance(exc, psycopg.OperationalError) and not isinstance(
                        exc, pg_errors.DeadlockDetected | pg_errors.SerializationFailure):
                    await self._discard_broken()
                delay = backoff.delay
                if not retry or not _advance(backoff):
                    raise translate(exc) from None
                log.warning("database_retry", error=mask_url(str(exc))[:200])
                await asyncio.sleep(delay)
            except psycopg.Error as exc:
                raise translate(exc) from None

    async def _discard_broken(self) -> None:
        """After a connection error, check this loop's idle connections now (server restart)."""
        pool = self._pools.get(asyncio.get_running_loop())
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.check()

    async def one(self, name: str, /, **params: Any) -> Row | None:
        return await self.call(lambda tx: tx.one(name, **params))

    async def all(self, name: str, /, **params: Any) -> list[Row]:
        return await self.call(lambda tx: tx.all(name, **params))

    async def close_here(self) -> None:
        """Close this loop's pool (the loop thread at shutdown)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close(timeout=5.0)

    def close(self) -> None:
        """No new pools; a pool of a loop still alive is closed by that loop (close_here),
        the others' connections go with their loops."""
        self.closed = True


def _advance(backoff: Backoff) -> bool:
    """Backoff.wait without its sleep (the caller awaits asyncio.sleep instead)."""
    import time

    if time.monotonic() + backoff.delay > backoff.deadline:
        return False
    backoff.delay = min(backoff.cap, backoff.delay * 2)
    return True

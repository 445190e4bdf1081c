"""The one database seam: runs named queries over a psycopg pool and turns driver errors into
our typed errors. Nothing above this module imports psycopg.

Idempotent operations retry on connection loss with backoff (a Postgres restart pauses
workflows instead of failing them); a transaction is retried as a unit.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from typing import Any, LiteralString, TypeVar, cast

import psycopg
import psycopg_pool
import structlog
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import dict_row

from .. import metrics
from ..errors import (
    DatabaseUnavailableError,
    DBOSNotLaunchedError,
    DBOSWorkersError,
    DuplicateKeyError,
    MissingReferenceError,
)
from .arrays import bind
from .netopts import tcp_options
from .queries import load_queries

Row = dict[str, Any]
# Run on every pooled connection (sync and async) before its first statement.
SESSION_SETUP = ("session_generic_plans", "session_no_jit", "session_index_scans",
                 "session_idle_transaction_timeout")
T = TypeVar("T")
log = structlog.get_logger("dbos_workers.db")

# Connection loss, plus the transient conflicts a retried statement resolves.
_RETRYABLE = (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout,
              pg_errors.DeadlockDetected, pg_errors.SerializationFailure)


class RollbackSignal(Exception):
    """Raised inside Repository.transaction to roll back and return a value."""

    def __init__(self, value: Any = None) -> None:
        self.value = value
        super().__init__("rollback")


def mask_url(text: str) -> str:
    """Hide passwords in connection strings and error texts."""
    text = re.sub(r"(://[^:/@\s]+:)[^@\s]*@", r"\1***@", text)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)


def translate(exc: BaseException) -> BaseException:
    """A psycopg error as one of ours (returned, not raised)."""
    if isinstance(exc, pg_errors.UniqueViolation):
        return DuplicateKeyError(exc.diag.constraint_name or "")
    if isinstance(exc, pg_errors.ForeignKeyViolation):
        return MissingReferenceError(exc.diag.constraint_name or "")
    if isinstance(exc, _RETRYABLE):
        return DatabaseUnavailableError(f"system database unavailable: {mask_url(str(exc))}")
    if isinstance(exc, psycopg.Error):
        return DBOSWorkersError(f"system database error: {mask_url(str(exc))}")
    return exc


def compose(statement: str, **identifiers: str) -> sql.Composed:
    """A named query with {identifiers} quoted by psycopg.sql.Identifier (never f-strings)."""
    template = sql.SQL(cast(LiteralString, statement))  # type: ignore[redundant-cast]
    return template.format(**{k: sql.Identifier(v) for k, v in identifiers.items()})


class Backoff:
    """Exponential backoff with a deadline."""

    def __init__(self, first: float = 0.05, cap: float = 2.0, total: float = 60.0) -> None:
        self.delay, self.cap = first, cap
        self.deadline = time.monotonic() + total

    def wait(self) -> bool:
        """Sleep before the next try; False when the deadline has passed."""
        if time.monotonic() + self.delay > self.deadline:
            return False
        time.sleep(self.delay)
        self.delay = min(self.cap, self.delay * 2)
        return True


class Tx:
    """Named-query runner bound to one connection (inside a transaction)."""

    def __init__(self, conn: psycopg.Connection[Row], queries: dict[str, bytes]) -> None:
        self._conn, self._queries = conn, queries

    def _execute(self, name: str, params: dict[str, Any]) -> psycopg.Cursor[Row]:
        return self._conn.execute(self._queries[name], bind(params))

    def one(self, name: str, /, **params: Any) -> Row | None:
        return self._execute(name, params).fetchone()

    def all(self, name: str, /, **params: Any) -> list[Row]:
        return self._execute(name, params).fetchall()

    def run(self, name: str, /, **params: Any) -> int:
        return self._execute(name, params).rowcount


class Repository:
    """Runs named queries; the only code that talks to the system database."""

    def __init__(self, conninfo: str, *, schema: str, channel: str, pool_size: int,
                 app_name: str = "dbos_workers", min_size: int = 1,
                 retry_total_sec: float = 60.0) -> None:
        self.conninfo, self.schema, self.channel = conninfo, schema, channel
        self.retry_total_sec = retry_total_sec
        self._queries = {k: v.encode() for k, v in load_queries().items()}
        self._search_path = compose("SET search_path TO {schema}", schema=schema)
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Row]] = psycopg_pool.ConnectionPool(
            conninfo,
            min_size=min(min_size, pool_size),
            max_size=pool_size,
            kwargs={"autocommit": True, "row_factory": dict_row, "application_name": app_name,
                    **tcp_options(conninfo)},
            configure=self._configure,
            open=False,
            timeout=10.0,
            name=f"dbos_workers-{schema}",
        )

    def _configure(self, conn: psycopg.Connection[Row]) -> None:
        conn.execute(self._search_path)
        for name in SESSION_SETUP:
            conn.execute(self._queries[name])

    def open(self) -> None:
        try:
            self._pool.open(wait=False)
        except psycopg.Error as exc:
            raise translate(exc) from None

    def close(self) -> None:
        self._pool.close(timeout=5.0)

    def _attempt(self, fn: Callable[[Tx], T], in_transaction: bool) -> T:
        with self._pool.connection() as conn:
            tx = Tx(conn, self._queries)
            if not in_transaction:
                return fn(tx)
            try:
                with conn.transaction():
                    return fn(tx)
            except RollbackSignal as signal:
                return signal.value  # type: ignore[no-any-return]

    def call(self, fn: Callable[[Tx], T], *, transaction: bool = False, retry: bool = True) -> T:
        """Run fn(tx) on a pooled connection; retry connection failures when retry is set."""
        backoff = Backoff(total=self.retry_total_sec)
        while True:
            try:
                return self._attempt(fn, transaction)
            except psycopg_pool.PoolClosed:
                raise DBOSNotLaunchedError("DBOS was destroyed: this handle's connection pool is "
                                           "closed; launch DBOS again and retrieve the workflow") from None
            except _RETRYABLE as exc:
                metrics.db_error(exc)
                if isinstance(exc, psycopg.OperationalError) and not isinstance(
                        exc, pg_errors.DeadlockDetected | pg_errors.SerializationFailure):
                    self._discard_broken()
                if not retry or not backoff.wait():
                    raise translate(exc) from None
                log.warning("database_retry", error=mask_url(str(exc))[:200])
            except psycopg.Error as exc:
                metrics.db_error(exc)
                raise translate(exc) from None

    def _discard_broken(self) -> None:
        """After a connection error the other idle connections are likely dead too (server
        restart, network cut): check them all now instead of failing on each in turn."""
        metrics.db_reconnect("pool")
        with contextlib.suppress(Exception):
            self._pool.check()

    def one(self, name: str, /, *, retry: bool = True, **params: Any) -> Row | None:
        return self.call(lambda tx: tx.one(name, **params), retry=retry)

    def all(self, name: str, /, *, retry: bool = True, **params: Any) -> list[Row]:
        return self.call(lambda tx: tx.all(name, **params), retry=retry)

    def run(self, name: str, /, *, retry: bool = True, **params: Any) -> int:
        return self.call(lambda tx: tx.run(name, **params), retry=retry)


def connect_direct(conninfo: str, *, autocommit: bool = True, **kwargs: Any) -> psycopg.Connection[Row]:
    """An unpooled connection (listener, elector, admin) with the TCP options of netopts.py
    (explicit kwargs win over them). Errors are translated."""
    try:
        return psycopg.connect(conninfo, autocommit=autocommit, row_factory=dict_row,
                               **{**tcp_options(conninfo), **kwargs})
    except psycopg.Error as exc:
        raise translate(exc) from None

"""The application database seam: the named queries of sql/app_queries/ run through SQLAlchemy
(the user's engine, or ours), and driver errors classified and translated into our typed
errors. Nothing else in datasource/ holds SQL or looks inside a driver error.

The user's own statements inside a transaction raise what they raise (their SQLAlchemy
exceptions); `classify` only decides whether the transaction runs again.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from psycopg import errors as pg_errors
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.base import PGDialect

from ..db.locks import advisory_key
from ..db.queries import load_queries, migration_files
from ..db.repository import mask_url
from ..errors import DatabaseUnavailableError, DBOSWorkersError
from .retry import TxBackoff

T = TypeVar("T")
_PREPARER = PGDialect().identifier_preparer  # type: ignore[no-untyped-call]
_SCHEMA_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class Failure(enum.Enum):
    CONFLICT = "conflict"  # serialization failure or deadlock: run the transaction again
    UNAVAILABLE = "unavailable"  # the connection broke or the server stops: run again
    FATAL = "fatal"  # anything else: the function's error, recorded and raised


def _sqlstate(exc: sa_exc.DBAPIError) -> str:
    return str(getattr(exc.orig, "sqlstate", None) or "")


def classify(exc: BaseException) -> Failure:
    """What an error raised inside (or by) a transaction means for it."""
    if isinstance(exc, DatabaseUnavailableError | sa_exc.TimeoutError):
        return Failure.UNAVAILABLE
    if not isinstance(exc, sa_exc.DBAPIError):
        return Failure.FATAL
    state = _sqlstate(exc)
    if isinstance(exc.orig, pg_errors.SerializationFailure | pg_errors.DeadlockDetected) \
            or state in ("40001", "40P01"):
        return Failure.CONFLICT
    if exc.connection_invalidated or state[:2] in ("08", "53") or state == "25P03" \
            or (state[:2] == "57" and state != "57014"):
        return Failure.UNAVAILABLE
    if isinstance(exc.orig, psycopg.OperationalError) and not state:
        return Failure.UNAVAILABLE  # could not connect, or the server closed the connection
    return Failure.FATAL


def translate(exc: BaseException) -> BaseException:
    """An error of one of our own statements as one of ours (returned, not raised)."""
    if not isinstance(exc, sa_exc.DBAPIError | sa_exc.TimeoutError):
        return exc
    text = mask_url(str(getattr(exc, "orig", None) or exc)).strip()
    if classify(exc) is not Failure.FATAL:
        return DatabaseUnavailableError(f"application database unavailable: {text}")
    return DBOSWorkersError(f"application database error: {text}")


@dataclass(frozen=True, slots=True)
class Recorded:
    """The committed outcome of one position of a workflow in datasource_outputs."""

    function_name: str
    output: str | None
    error: str | None
    serialization: str | None


def quote_schema(schema: str) -> str:
    if not _SCHEMA_RE.match(schema):
        raise DBOSWorkersError(f"datasource schema must be a plain identifier, got {schema!r}")
    return str(_PREPARER.quote_identifier(schema))


class AppDatabase:
    """The checkpoint table of one datasource's schema, as typed calls on a Connection."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.quoted = quote_schema(schema)
        self._q = {name: sa.text(statement.replace("{schema}", self.quoted))
                   for name, statement in load_queries("app_queries").items()}

    def _run(self, conn: sa.Connection, name: str, /, **params: Any) -> Any:
        return conn.execute(self._q[name], params)

    # Checkpoints ---------------------------------------------------------------------------
    def output_get(self, conn: sa.Connection, workflow_id: str, step_id: int) -> Recorded | None:
        row = self._run(conn, "datasource_output_get", workflow_id=workflow_id, step_id=step_id).first()
        return None if row is None else Recorded(row[0], row[1], row[2], row[3])

    def output_insert(self, conn: sa.Connection, workflow_id: str, step_id: int, rec: Recorded) -> bool:
        """True when this call recorded the position; False when another execution had."""
        row = self._run(conn, "datasource_output_insert", workflow_id=workflow_id, step_id=step_id,
                        function_name=rec.function_name, output=rec.output, error=rec.error,
                        serialization=rec.serialization).first()
        return row is not None

    def outputs_delete(self, conn: sa.Connection, workflow_ids: Sequence[str]) -> int:
        return int(self._run(conn, "datasource_outputs_delete", workflow_ids=list(workflow_ids)).rowcount)

    # Migrations ----------------------------------------------------------------------------
    def migrations_pending(self, conn: sa.Connection) -> list[tuple[int, str, str]]:
        """The migrations of sql/app_migrations/ not applied yet (read without a lock)."""
        files = migration_files("app_migrations")
        table = f"{self.quoted}.datasource_migrations"
        if not self._run(conn, "datasource_migrations_present", table=table).scalar():
            return files
        done = {r[0] for r in self._run(conn, "datasource_migrations_applied")}
        return [f for f in files if f[0] not in done]

    def migrate(self, conn: sa.Connection) -> list[int]:
        """Apply what is pending in conn's transaction, under a transaction advisory lock."""
        self._run(conn, "datasource_migrations_lock", key=advisory_key("datasource", self.schema))
        if self._run(conn, "datasource_schema_exists", schema=self.schema).first() is None:
            self._run(conn, "datasource_schema_create")  # checked first: it needs CREATE
        self._run(conn, "datasource_migrations_bootstrap")
        applied = []
        for version, name, text in self.migrations_pending(conn):
            conn.exec_driver_sql(text.replace("{schema}", self.quoted))
            self._run(conn, "datasource_migrations_record", version=version, name=name,
                      now_ms=int(time.time() * 1000))
            applied.append(version)
        return applied


def call(connect: Callable[[], sa.Connection], fn: Callable[[sa.Connection], T], *,
         budget_sec: float = 60.0, transaction: bool = False) -> T:
    """Run one of our statements: autocommit (or one transaction), retried on conflicts and
    lost connections for up to budget_sec, errors translated."""
    backoff = TxBackoff(budget_sec=budget_sec)
    while True:
        try:
            with connect() as conn:
                if not transaction:
                    return fn(conn.execution_options(isolation_level="AUTOCOMMIT"))
                with conn.begin():
                    return fn(conn)
        except Exception as exc:
            if classify(exc) is Failure.FATAL or not backoff.wait(classify(exc) is Failure.CONFLICT):
                raise translate(exc) from None

"""SQLAlchemyDatasource (DBOS 3.x): transactions on an application database.

    ds = SQLAlchemyDatasource.create("postgresql://user:pw@host/app")

    @ds.transaction()
    def add(order_id: int) -> int:
        ds.sql_session().add(Order(id=order_id))  # commits with the checkpoint
        return order_id

Create datasources at import, before DBOS.launch() (worker processes are forked at launch and
know what existed then). The checkpoint table is created by sql/app_migrations/ at create()
(or at first use for the default application database); engines are made in each process at
its first transaction (engines.py).
"""

from __future__ import annotations

import functools
import inspect
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar, cast, overload

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker as SyncSessionmaker
from sqlalchemy.pool import NullPool

from ..errors import DBOSConfigError, DBOSWorkersError
from ..runtime import Runtime
from ..serialization import Serializer
from . import transaction as tx
from .appdb import AppDatabase, Recorded, call
from .engines import EngineHolder
from .resolve import driver_url, prepare_database, resolve_url
from .session import current_session

F = TypeVar("F", bound=Callable[..., Any])
IsolationLevel = Literal["SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED"]
ISOLATION_LEVELS = ("SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED")
DEFAULT_SCHEMA = "dbos"
_datasources: weakref.WeakSet[Any] = weakref.WeakSet()


def check_options(func: Callable[..., Any], isolation_level: str, coroutine: bool) -> None:
    if isolation_level not in ISOLATION_LEVELS:
        raise DBOSConfigError(f"isolation_level must be one of {', '.join(ISOLATION_LEVELS)}, "
                              f"got {isolation_level!r}")
    if inspect.iscoroutinefunction(func) != coroutine:
        kind = "a coroutine function" if coroutine else "not a coroutine function (use AsyncSQLAlchemyDatasource)"
        raise DBOSWorkersError(f"{getattr(func, '__qualname__', func)!r}: a transaction here must be {kind}")


def check_sessionmaker(maker: Any, cls: type) -> None:
    if maker is None:
        return
    if not isinstance(maker, cls):
        raise DBOSConfigError(f"sessionmaker must be a {cls.__module__}.{cls.__qualname__}")
    if getattr(maker, "kw", {}).get("binds"):
        raise DBOSConfigError("a datasource sessionmaker must not set binds=: every statement of a "
                              "transaction must use the datasource's engine, to commit with its checkpoint")


class SQLAlchemyDatasource:
    def __init__(self, database_url: str | None = None, *, engine_kwargs: dict[str, Any] | None = None,
                 engine: sa.Engine | None = None, schema: str | None = None,
                 serializer: Serializer | None = None,
                 sessionmaker: SyncSessionmaker[Any] | None = None,
                 run_migrations: bool = True) -> None:
        check_sessionmaker(sessionmaker, SyncSessionmaker)
        self.url = driver_url(database_url) if database_url else None
        self.schema = schema or DEFAULT_SCHEMA
        self.db = AppDatabase(self.schema)
        self.engine_kwargs = dict(engine_kwargs or {})
        self.sessionmaker: SyncSessionmaker[Any] = sessionmaker or SyncSessionmaker(expire_on_commit=False)
        self.serializer = serializer
        self.run_migrations = run_migrations
        self.created_engine = engine is None
        self._engines: EngineHolder[sa.Engine] = EngineHolder(self._make_engine, engine)
        self._resolved: str | None = None  # the default application database's URL, once known
        self._prepared = False
        self._lock = threading.Lock()
        _datasources.add(self)

    @staticmethod
    def create(database_url: str | None = None, engine_kwargs: dict[str, Any] | None = None,
               engine: sa.Engine | None = None, schema: str | None = None,
               serializer: Serializer | None = None,
               sessionmaker: SyncSessionmaker[Any] | None = None,
               run_migrations: bool = True) -> SQLAlchemyDatasource:
        """A datasource on database_url (None: the default application database, resolved
        when DBOS is launched). Migrates (or, with run_migrations=False, verifies) now when
        the database is known."""
        ds = SQLAlchemyDatasource(database_url, engine_kwargs=engine_kwargs, engine=engine,
                                  schema=schema, serializer=serializer, sessionmaker=sessionmaker,
                                  run_migrations=run_migrations)
        if database_url is not None or engine is not None:
            ds.prepare()
        return ds

    @staticmethod
    def migrate(database_url: str, *, schema: str | None = None, application_role: str | None = None) -> None:
        """Create or upgrade a datasource's checkpoint table (e.g. with a privileged role)."""
        if application_role is not None:
            raise DBOSConfigError("application_role is not supported by dbos-workers: grant the "
                                  "role SELECT, INSERT, DELETE on <schema>.datasource_outputs yourself")
        SQLAlchemyDatasource(database_url, schema=schema).prepare()

    # Engines -----------------------------------------------------------------------------
    def database_url(self) -> str:
        if self.url is not None:
            return self.url
        if self._resolved is None:
            self._resolved = resolve_url()
        return self._resolved

    def _make_engine(self) -> sa.Engine:
        kwargs = {"connect_args": {"application_name": "dbos_workers:datasource"}, **self.engine_kwargs}
        return sa.create_engine(sa.make_url(self.database_url()), **kwargs)

    @property
    def engine(self) -> sa.Engine:
        """This process's engine (made at first use in each process)."""
        return self._engines.get()

    def prepare(self) -> None:
        """Once per process before the first transaction: create the default application
        database if missing, then migrate or verify the checkpoint table. Uses a connection
        of its own (no pool is left behind to cross a fork)."""
        if self._prepared:
            return
        with self._lock:
            if self._prepared:
                return
            if self.url is None and self.created_engine:
                prepare_database(self.database_url())
            own = None if not self.created_engine else sa.create_engine(
                sa.make_url(self.database_url()), poolclass=NullPool)
            connect = (own or self._engines.get()).connect
            try:
                if self.run_migrations:
                    if call(connect, self.db.migrations_pending):
                        call(connect, self.db.migrate, transaction=True)
                elif call(connect, self.db.migrations_pending):
                    raise DBOSConfigError(
                        f"datasource schema {self.schema!r} is not migrated and run_migrations is "
                        "off: run SQLAlchemyDatasource.migrate(url) with a role that may")
            finally:
                if own is not None:
                    own.dispose()
            self._prepared = True

    def new_session(self) -> Session:
        self.prepare()
        return cast(Session, self.sessionmaker(bind=self._engines.get()))

    def serializer_for(self, rt: Runtime) -> Serializer:
        return self.serializer or rt.serializer

    def close(self) -> None:
        """DBOS.destroy(): close this process's connections; the default database is
        resolved again at the next launch (its config may differ)."""
        self._engines.dispose()
        if self.url is None:
            self._resolved, self._prepared = None, False

    # Checkpoints (autocommit, retried) -------------------------------------------------------
    def recorded(self, workflow_id: str, step_id: int) -> Recorded | None:
        self.prepare()
        return call(self._engines.get().connect, lambda c: self.db.output_get(c, workflow_id, step_id))

    def record(self, workflow_id: str, step_id: int, rec: Recorded) -> Recorded | None:
        """Insert rec at the position; None when inserted, else what was there."""
        def insert(conn: sa.Connection) -> Recorded | None:
            if self.db.output_insert(conn, workflow_id, step_id, rec):
                return None
            return self.db.output_get(conn, workflow_id, step_id)

        return call(self._engines.get().connect, insert)

    def forget(self, workflow_ids: Sequence[str]) -> int:
        """Delete the checkpoints of these (deleted) workflows."""
        self.prepare()
        return call(self._engines.get().connect, lambda c: self.db.outputs_delete(c, workflow_ids),
                    budget_sec=5.0)

    # The API ---------------------------------------------------------------------------------
    def sql_session(self) -> Session:
        """The session of the running transaction."""
        return cast(Session, current_session())

    def run_tx_step(self, ds_options: dict[str, Any] | None, func: Callable[..., Any], *args: Any,
                    **kwargs: Any) -> Any:
        """Run func as a transaction (DBOS's escape hatch); options: name, isolation_level."""
        opts = ds_options or {}
        name = opts.get("name") or func.__qualname__
        level = opts.get("isolation_level") or "SERIALIZABLE"
        check_options(func, level, coroutine=False)
        return tx.run(self, name, level, func, args, kwargs)

    @overload
    def transaction(self, func: F) -> F: ...

    @overload
    def transaction(self, func: None = None, *, name: str | None = None,
                    isolation_level: IsolationLevel = "SERIALIZABLE") -> Callable[[F], F]: ...

    def transaction(self, func: Callable[..., Any] | None = None, *, name: str | None = None,
                    isolation_level: IsolationLevel = "SERIALIZABLE") -> Any:
        """Run the decorated function in one transaction, exactly once per workflow position."""
        def decorator(f: F) -> F:
            check_options(f, isolation_level, coroutine=False)
            tx_name = name or f.__qualname__

            @functools.wraps(f)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return tx.run(self, tx_name, isolation_level, f, args, kwargs)

            return wrapper  # type: ignore[return-value]

        return decorator(func) if func is not None else decorator


def close_all() -> None:
    for ds in list(_datasources):
        ds.close()


def forget_all(workflow_ids: Sequence[str]) -> None:
    for ds in list(_datasources):
        ds.forget(workflow_ids)

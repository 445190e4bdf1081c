"""AsyncSQLAlchemyDatasource (DBOS 3.x): transactions whose function is a coroutine, on
SQLAlchemy's asyncio engine over psycopg 3's async driver.

Usable today from sync code: a sync workflow awaits it with `asyncio.run(...)`. Each new event
loop gets its own engine (an asyncio connection belongs to its loop), so that costs a new
connection per call; the long-lived loop of async workflows will reuse one. What async
workflows will still need: the system-database calls here (replay, the cancel check and the
deferred checkpoint) are the sync ones and block the loop while they run; they should go
through `asyncio.to_thread` or an async group-commit submit then.

The loop below is a hand-kept twin of transaction.execute (the I/O awaits); the decisions,
records and replays are shared with the sync datasource.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from ..aio.steps import check_cancelled, record_operation
from ..context import StepContext, WorkflowContext, current_step, current_workflow, enter_step, exit_step
from ..errors import DBOSConfigError
from ..runtime import Runtime, current_runtime
from ..serialization import Serializer
from ..steps import replay
from . import transaction as tx
from .appdb import Failure, Recorded, classify, translate
from .engines import LoopEngines
from .retry import TxBackoff
from .session import current_session, enter_session, exit_session
from .sync import IsolationLevel, SQLAlchemyDatasource, _datasources, check_options, check_sessionmaker

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


async def call_body(session: AsyncSession, step_id: int | None, func: Callable[..., Any],
                    args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    token = enter_session(session)
    step = enter_step(StepContext(step_id, 1, 1)) if step_id is not None else None
    try:
        return await func(*args, **kwargs)
    finally:
        if step is not None:
            exit_step(step)
        exit_session(token)


class AsyncSQLAlchemyDatasource:
    def __init__(self, database_url: str | None = None, *, engine_kwargs: dict[str, Any] | None = None,
                 engine: AsyncEngine | None = None, schema: str | None = None,
                 serializer: Serializer | None = None,
                 sessionmaker: async_sessionmaker[Any] | None = None, run_migrations: bool = True) -> None:
        check_sessionmaker(sessionmaker, async_sessionmaker)
        # The sync twin owns the URL, schema, checkpoint queries, migrations and retention.
        self._sync = SQLAlchemyDatasource(database_url, engine_kwargs=engine_kwargs, schema=schema,
                                          serializer=serializer, run_migrations=run_migrations)
        _datasources.discard(self._sync)
        self.schema, self.db, self.serializer = self._sync.schema, self._sync.db, serializer
        self.sessionmaker: async_sessionmaker[Any] = sessionmaker or async_sessionmaker(expire_on_commit=False)
        self._given = engine
        self._engines = LoopEngines(self._make_engine, engine)
        self._lock = threading.Lock()
        _datasources.add(self)

    @staticmethod
    async def create(database_url: str | None = None, engine_kwargs: dict[str, Any] | None = None,
                     engine: AsyncEngine | None = None, schema: str | None = None,
                     serializer: Serializer | None = None,
                     sessionmaker: async_sessionmaker[Any] | None = None,
                     run_migrations: bool = True) -> AsyncSQLAlchemyDatasource:
        ds = AsyncSQLAlchemyDatasource(database_url, engine_kwargs=engine_kwargs, engine=engine,
                                       schema=schema, serializer=serializer,
                                       sessionmaker=sessionmaker, run_migrations=run_migrations)
        if database_url is not None or engine is not None:
            await ds.prepare()
        return ds

    @staticmethod
    async def migrate(database_url: str, *, schema: str | None = None,
                      application_role: str | None = None) -> None:
        await asyncio.to_thread(SQLAlchemyDatasource.migrate, database_url, schema=schema,
                                application_role=application_role)

    def _make_engine(self) -> AsyncEngine:
        kwargs = {"connect_args": {"application_name": "dbos_workers:datasource"}, **self._sync.engine_kwargs}
        return create_async_engine(sa.make_url(self._sync.database_url()), **kwargs)

    @property
    def engine(self) -> AsyncEngine:
        """This event loop's engine (call from a coroutine)."""
        return self._engines.get()

    async def prepare(self) -> None:
        if self._given is None:
            await asyncio.to_thread(self._sync.prepare)  # a sync connection of its own
            return
        if self._sync._prepared:
            return
        async with self._given.connect() as conn:
            pending = await conn.run_sync(self.db.migrations_pending)
            if pending and self._sync.run_migrations:
                async with conn.begin():
                    await conn.run_sync(self.db.migrate)
            elif pending:
                raise DBOSConfigError(f"datasource schema {self.schema!r} is not migrated and "
                                      "run_migrations is off")
        self._sync._prepared = True

    def close(self) -> None:
        self._engines.dispose()
        self._sync.close()

    def forget(self, workflow_ids: Sequence[str]) -> int:
        """Retention (sync, on the leader's thread): through a sync connection of its own."""
        return 0 if self._given is not None else self._sync.forget(workflow_ids)

    def serializer_for(self, rt: Runtime) -> Serializer:
        return self.serializer or rt.serializer

    def sql_session(self) -> AsyncSession:
        session: AsyncSession = current_session()
        return session

    # Transactions ----------------------------------------------------------------------------
    async def run_tx_step_async(self, ds_options: dict[str, Any] | None,
                                func: Callable[..., Coroutine[Any, Any, Any]], *args: Any,
                                **kwargs: Any) -> Any:
        opts = ds_options or {}
        level = opts.get("isolation_level") or "SERIALIZABLE"
        check_options(func, level, coroutine=True)
        return await self._run(opts.get("name") or func.__qualname__, level, func, args, kwargs)

    def transaction(self, func: Callable[..., Any] | None = None, *, name: str | None = None,
                    isolation_level: IsolationLevel = "SERIALIZABLE") -> Any:
        def decorator(f: F) -> F:
            check_options(f, isolation_level, coroutine=True)
            tx_name = name or f.__qualname__

            @functools.wraps(f)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                return await self._run(tx_name, isolation_level, f, args, kwargs)

            return wrapper  # type: ignore[return-value]

        return decorator(func) if func is not None else decorator

    async def _run(self, name: str, level: str, func: Callable[..., Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Any:
        await self.prepare()
        ctx = current_workflow()
        if ctx is None or current_step() is not None:
            return await self._plain(level, func, args, kwargs)
        rt = current_runtime()
        await check_cancelled(rt, ctx)
        fid = ctx.next_function_id()
        done, value = replay(rt, ctx, fid, name)
        if done:
            return value
        started = rt.clock.now_ms()
        pos = tx.Position(ctx.workflow_id, fid, name)
        result = await self._execute(rt, ctx, pos, level, func, args, kwargs)
        output, error = tx.system_texts(rt, result)
        await record_operation(rt, ctx, fid, name, output=output, error=error, started_at_ms=started,
                               defer=True)
        if result.error is not None:
            raise result.error
        return result.value

    async def _plain(self, level: str, func: Callable[..., Any], args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> Any:
        backoff = TxBackoff()
        while True:
            try:
                async with self.sessionmaker(bind=self._engines.get()) as session, session.begin():
                    await session.connection(execution_options={"isolation_level": level})
                    return await call_body(session, None, func, args, kwargs)
            except Exception as exc:
                failure = classify(exc)
                delay = None if failure is Failure.FATAL else backoff.next(failure is Failure.CONFLICT)
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    async def _execute(self, rt: Runtime, ctx: WorkflowContext, pos: tx.Position, level: str,
                       func: Callable[..., Any], args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> tx.Result:
        serializer = self.serializer_for(rt)
        backoff = TxBackoff()
        while True:
            found = await self._call(lambda c: self.db.output_get(c, pos.workflow_id, pos.step_id))
            if found is not None:
                return tx.replayed(rt, pos, found, serializer)
            try:
                return await self._attempt(pos, level, func, args, kwargs, serializer)
            except tx.AlreadyRecorded:
                continue
            except Exception as exc:
                failure = classify(exc)
                if failure is Failure.FATAL:
                    return await self._record_error(rt, pos, exc, serializer)
                delay = backoff.next(failure is Failure.CONFLICT)
                if delay is None:
                    raise translate(exc) from exc
                await asyncio.sleep(delay)
                await check_cancelled(rt, ctx)

    async def _attempt(self, pos: tx.Position, level: str, func: Callable[..., Any],
                       args: tuple[Any, ...], kwargs: dict[str, Any], serializer: Serializer) -> tx.Result:
        async with self.sessionmaker(bind=self._engines.get()) as session, session.begin():
            await session.connection(execution_options={"isolation_level": level})
            value = await call_body(session, pos.step_id, func, args, kwargs)
            await session.flush()
            rec = Recorded(pos.name, serializer.serialize(value), None, serializer.name())
            inserted = await session.run_sync(
                lambda s: self.db.output_insert(s.connection(), pos.workflow_id, pos.step_id, rec))
            if not inserted:
                raise tx.AlreadyRecorded()
        return tx.Result(rec, value, None)

    async def _record_error(self, rt: Runtime, pos: tx.Position, exc: BaseException,
                            serializer: Serializer) -> tx.Result:
        rec = Recorded(pos.name, None, serializer.serialize_error(exc), serializer.name())

        def insert(conn: sa.Connection) -> Recorded | None:
            if self.db.output_insert(conn, pos.workflow_id, pos.step_id, rec):
                return None
            return self.db.output_get(conn, pos.workflow_id, pos.step_id)

        existing = await self._call(insert)
        return tx.Result(rec, None, exc) if existing is None else tx.replayed(rt, pos, existing, serializer)

    async def _call(self, fn: Callable[[sa.Connection], T]) -> T:
        """One of our statements, autocommit, retried like appdb.call."""
        backoff = TxBackoff()
        while True:
            try:
                conn: AsyncConnection
                async with self._engines.get().connect() as conn:
                    auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                    return await auto.run_sync(fn)
            except Exception as exc:
                failure = classify(exc)
                delay = None if failure is Failure.FATAL else backoff.next(failure is Failure.CONFLICT)
                if delay is None:
                    raise translate(exc) from None
                await asyncio.sleep(delay)

"""A transaction as one operation of a workflow (sync).

At its position `fid` a transaction replays the system database's record (no application
database round trip), else the application database's `datasource_outputs` row (the window
between its commit and the system checkpoint), else it runs: in one application-database
transaction at the requested isolation level, the function, then the insert of its output at
`(workflow_id, fid)`, committed together. An insert that finds the position taken means another
execution committed it first: everything rolls back and that row is the result. Conflicts
(serialization failures, deadlocks) run the transaction again with backoff; a lost connection
too, after checking whether the lost commit went through. Any other error rolls back, is
recorded at the position and raised; replays raise it again.

The system database records the position like a step (its name, output or error), deferred to
the workflow's next operation or its outcome, as a step is: the application row already makes
the effect durable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..context import StepContext, current_step, current_workflow, enter_step, exit_step
from ..errors import DBOSSerializationError, DBOSUnexpectedStepError
from ..runtime import Runtime, current_runtime
from ..serialization import Serializer
from ..steps import check_cancelled, record_operation, replay
from .appdb import Failure, Recorded, classify, translate
from .retry import TxBackoff
from .session import enter_session, exit_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..context import WorkflowContext
    from .sync import SQLAlchemyDatasource


@dataclass(frozen=True, slots=True)
class Position:
    workflow_id: str
    step_id: int
    name: str


@dataclass(frozen=True, slots=True)
class Result:
    """A position's outcome: as recorded, and as Python values (live, or deserialized)."""

    recorded: Recorded
    value: Any
    error: BaseException | None


class AlreadyRecorded(Exception):
    """Internal: another execution committed this position first (rolls the attempt back)."""


def call_body(session: Any, step_id: int | None, func: Callable[..., Any],
              args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run the function with its session current (and as a step, inside a workflow)."""
    token = enter_session(session)
    step = enter_step(StepContext(step_id, 1, 1)) if step_id is not None else None
    try:
        return func(*args, **kwargs)
    finally:
        if step is not None:
            exit_step(step)
        exit_session(token)


def run(ds: SQLAlchemyDatasource, name: str, isolation_level: str, func: Callable[..., Any],
        args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    ctx = current_workflow()
    if ctx is None or current_step() is not None:
        return plain(ds, isolation_level, func, args, kwargs)  # not an operation of a workflow
    rt = current_runtime()
    check_cancelled(rt, ctx)
    fid = ctx.next_function_id()
    done, value = replay(rt, ctx, fid, name)
    if done:
        return value
    started = rt.clock.now_ms()
    result = execute(ds, rt, ctx, Position(ctx.workflow_id, fid, name), isolation_level,
                     func, args, kwargs)
    output, error = system_texts(rt, result)
    record_operation(rt, ctx, fid, name, output=output, error=error, started_at_ms=started,
                     defer=True)
    if result.error is not None:
        raise result.error
    return result.value


def plain(ds: SQLAlchemyDatasource, isolation_level: str, func: Callable[..., Any],
          args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Outside a workflow (or inside a step): a transaction, retried, with no checkpoint."""
    backoff = TxBackoff()
    while True:
        try:
            with ds.new_session() as session, session.begin():
                session.connection(execution_options={"isolation_level": isolation_level})
                return call_body(session, None, func, args, kwargs)
        except Exception as exc:
            failure = classify(exc)
            if failure is Failure.FATAL or not backoff.wait(failure is Failure.CONFLICT):
                raise


def execute(ds: SQLAlchemyDatasource, rt: Runtime, ctx: WorkflowContext, pos: Position,
            isolation_level: str, func: Callable[..., Any], args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> Result:
    serializer = ds.serializer_for(rt)
    backoff = TxBackoff(sleep=ctx.cancelled.wait)
    while True:
        # Read the position first, and again before each retry: an earlier execution may have
        # committed it, a lost commit reply may hide our own commit, and above READ COMMITTED a
        # racing execution's insert of this position surfaces as a conflict.
        found = ds.recorded(pos.workflow_id, pos.step_id)
        if found is not None:
            return replayed(rt, pos, found, serializer)
        try:
            return attempt(ds, pos, isolation_level, func, args, kwargs, serializer)
        except AlreadyRecorded:
            continue
        except Exception as exc:
            failure = classify(exc)
            if failure is Failure.FATAL:
                return record_error(ds, rt, pos, exc, serializer)
            if not backoff.wait(failure is Failure.CONFLICT):
                raise translate(exc) from exc
            rt.log.debug("transaction_retry", workflow_id=pos.workflow_id, step=pos.name,
                         failure=failure.value, tries=backoff.tries)
            check_cancelled(rt, ctx)


def attempt(ds: SQLAlchemyDatasource, pos: Position, isolation_level: str,
            func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
            serializer: Serializer) -> Result:
    """One try: the function and its checkpoint in one transaction, committed together."""
    session: Session
    with ds.new_session() as session, session.begin():
        session.connection(execution_options={"isolation_level": isolation_level})
        value = call_body(session, pos.step_id, func, args, kwargs)
        session.flush()  # generated keys and defaults are in the output, as the caller sees them
        rec = Recorded(pos.name, serializer.serialize(value), None, serializer.name())
        if not ds.db.output_insert(session.connection(), pos.workflow_id, pos.step_id, rec):
            raise AlreadyRecorded()
    return Result(rec, value, None)


def record_error(ds: SQLAlchemyDatasource, rt: Runtime, pos: Position, exc: BaseException,
                 serializer: Serializer) -> Result:
    """The transaction rolled back: record its error at the position (unless another
    execution recorded something there first: then that is the outcome)."""
    rec = Recorded(pos.name, None, serializer.serialize_error(exc), serializer.name())
    existing = ds.record(pos.workflow_id, pos.step_id, rec)
    if existing is not None:
        return replayed(rt, pos, existing, serializer)
    return Result(rec, None, exc)


def replayed(rt: Runtime, pos: Position, rec: Recorded, serializer: Serializer) -> Result:
    if rec.function_name != pos.name:
        raise DBOSUnexpectedStepError(pos.workflow_id, pos.step_id, pos.name, rec.function_name)
    reader = reader_for(rec.serialization, serializer, rt.serializer)
    if rec.error is not None:
        return Result(rec, None, reader.deserialize_error(rec.error))
    return Result(rec, None if rec.output is None else reader.deserialize(rec.output), None)


def reader_for(name: str | None, *candidates: Serializer) -> Serializer:
    for serializer in candidates:
        if name is None or serializer.name() == name:
            return serializer
    raise DBOSSerializationError(f"a transaction output was written with serializer {name!r}, "
                                 "which this datasource does not have")


def system_texts(rt: Runtime, result: Result) -> tuple[str | None, str | None]:
    """The position's output/error for the system database (its serializer may differ)."""
    rec = result.recorded
    if rec.serialization == rt.serializer.name():
        return rec.output, rec.error
    if result.error is not None:
        return None, rt.serializer.serialize_error(result.error)
    return rt.serializer.serialize(result.value), None

"""The session of the transaction running in this context: `ds.sql_session()` (3.x) and
`DBOS.sql_session` (2.x) return it."""

from __future__ import annotations

import contextvars
from typing import Any

from ..errors import DBOSNotInTransactionError

_session: contextvars.ContextVar[Any] = contextvars.ContextVar("dbos_sql_session", default=None)


def current_session() -> Any:
    """The running transaction's Session (AsyncSession in an async one)."""
    session = _session.get()
    if session is None:
        raise DBOSNotInTransactionError()
    return session


def enter_session(session: Any) -> contextvars.Token[Any]:
    return _session.set(session)


def exit_session(token: contextvars.Token[Any]) -> None:
    _session.reset(token)

"""Helpers shared by tests (importable as tests.helpers)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll predicate until truthy or the deadline passes (then fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def query(url: str, schema: str, statement: str, *params: Any) -> list[dict[str, Any]]:
    """Read the system tables directly (tests assert on rows)."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(schema)))
        cur = conn.execute(statement.encode(), params or None)
        return cur.fetchall() if cur.description else []


def wait_for_waiter(key: str, timeout: float = 10.0) -> None:
    """Until some thread of this process waits on a notification key (e.g. 'c:<workflow id>'),
    so a test can act at the moment the waiter is blocked instead of sleeping."""
    from dbos_workers import DBOS
    from dbos_workers.db.listener import wake_key

    prefix, _, rest = key.partition(":")
    wanted = wake_key(prefix + ":", rest)
    waiters = DBOS._rt().waiters
    wait_until(lambda: wanted in waiters._events, timeout, 0.002)

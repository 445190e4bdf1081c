"""The leader's session: one dedicated, unpooled connection holding the election's session
advisory lock, plus the leader row that names it (renewed on the database's clock). The
election's state machine is in leader/elector.py; this is only its database half.

Session advisory locks need a direct (or session-pooled) connection: PgBouncer in transaction
mode would hand the lock's session to someone else."""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg

from ..errors import LeadershipLostError
from .locks import advisory_key
from .queries import load_queries
from .records import Fenced, LeaderRecord
from .repository import Row, compose, connect_direct, translate
from .store import Store

FENCE_WAIT_MS = 1000  # how long a fence waits for the terminated backend to exit


def election_key(schema: str, app_name: str) -> int:
    return advisory_key("leader", schema, app_name)


class LeaderSession:
    """The elector's connection. Any database error closes it (the lock dies with it) and is
    raised as one of our typed errors."""

    def __init__(self, conninfo: str, schema: str, app_name: str, *, instance_id: str,
                 executor_id: str) -> None:
        self.conninfo, self.instance_id, self.executor_id = conninfo, instance_id, executor_id
        self.key = election_key(schema, app_name)
        queries = load_queries()
        self._setup = compose(queries["leader_session_setup"], schema=schema)
        self._q = {k: v.encode() for k, v in queries.items() if k.startswith("leader_")}
        self._conn: psycopg.Connection[Row] | None = None

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def _one(self, name: str, **params: Any) -> Row | None:
        try:
            if self._conn is None:
                self._conn = connect_direct(self.conninfo, application_name="dbos_workers:elector")
                self._conn.execute(self._setup)
            row: Row | None = self._conn.execute(self._q[name], params).fetchone()
            return row
        except psycopg.Error as exc:
            self.close()
            raise translate(exc) from None

    def try_lock(self) -> bool:
        """Take the election lock; when taken, the same statement records this session."""
        row = self._one("leader_try_lock", key=self.key, instance_id=self.instance_id,
                        executor_id=self.executor_id)
        return bool(row and row["acquired"])

    def fence_stale(self, lease_ms: int) -> Fenced | None:
        """Terminate the lock holder's session if its lease lapsed; what was fenced, or None."""
        row = self._one("leader_fence_stale", key=self.key, lease_ms=lease_ms, wait_ms=FENCE_WAIT_MS)
        if row is None or not row["terminated"]:
            return None
        return Fenced(row["executor_id"], row["instance_id"], row["backend_pid"], row["stale_ms"])

    def renew(self) -> None:
        """Renew the lease from the lock's session; raises LeadershipLostError when the row
        names another session (it fails anyway once this session is gone)."""
        if self._one("leader_renew", key=self.key, instance_id=self.instance_id) is None:
            self.close()
            raise LeadershipLostError("the leader row names another session")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


class LeaderStore(Store):
    def current(self, key: int) -> LeaderRecord | None:
        row = self.repo.one("leader_current", key=key)
        if row is None:
            return None
        return LeaderRecord(row["instance_id"], row["executor_id"], row["elected_at"], row["renewed_at"])

"""The probe of the service's health monitor: can a fresh connection reach the system
database within a short timeout, which schema version does it hold, and (for systemd's STATUS=
line) how many workflows run on this host's slots and who leads. One short-lived connection
per probe, never the pool: a pool waiting for a dead server would hide the outage for its
whole connection timeout."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from .queries import load_queries, migration_files
from .repository import compose, translate


@dataclass(frozen=True)
class DatabaseProbe:
    schema_version: int
    latest_version: int
    in_flight: int
    leader: str | None

    @property
    def migrated(self) -> bool:
        return self.schema_version >= self.latest_version


def probe_database(url: str, schema: str, executor_id: str, timeout_sec: float) -> DatabaseProbe:
    """Raises DatabaseUnavailableError (or DBOSWorkersError) when the database does not answer."""
    q = load_queries()
    seconds = max(1, round(timeout_sec))
    try:
        with psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=seconds,
                             options=f"-c statement_timeout={seconds * 1000}") as conn:
            try:
                version_row = conn.execute(compose(q["health_schema_version"], schema=schema)).fetchone()
            except psycopg.errors.UndefinedTable:
                version_row = {"version": 0}
            if version_row is None or int(version_row["version"]) == 0:
                return DatabaseProbe(0, len(migration_files()), 0, None)
            status = conn.execute(compose(q["health_pool_status"], schema=schema),
                                  {"slots": _like_prefix(executor_id) + "/%"}).fetchone()
    except psycopg.Error as exc:
        raise translate(exc) from None
    assert status is not None
    return DatabaseProbe(int(version_row["version"]), len(migration_files()),
                         int(status["in_flight"]), status["leader"])


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

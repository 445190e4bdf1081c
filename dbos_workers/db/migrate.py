"""Create the system database if missing and apply numbered migrations under an advisory lock.

Safe when several processes launch at once: the session advisory lock serializes them and
each applies only what the `migrations` table does not list yet.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import psycopg
import structlog
from psycopg import errors as pg_errors

from .locks import advisory_key
from .queries import load_queries, migration_files
from .repository import compose, connect_direct, translate

log = structlog.get_logger("dbos_workers.migrate")


def _maintenance_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    return urlunsplit(parts._replace(path="/postgres")), database


def ensure_database(url: str) -> None:
    """CREATE DATABASE for the URL's database when it does not exist."""
    admin_url, database = _maintenance_url(url)
    q = load_queries()
    with connect_direct(admin_url) as conn:
        try:
            if conn.execute(q["database_exists"].encode(), {"name": database}).fetchone():
                return
            conn.execute(compose(q["database_create"], database=database))
            log.info("database_created", database=database)
        except pg_errors.DuplicateDatabase:
            return
        except psycopg.Error as exc:
            raise translate(exc) from None


def drop_schema(url: str, schema: str) -> None:
    q = load_queries()
    with connect_direct(url) as conn:
        try:
            conn.execute(compose(q["schema_drop"], schema=schema))
        except psycopg.Error as exc:
            raise translate(exc) from None


def migrate(url: str, schema: str) -> list[int]:
    """Apply pending migrations; returns the versions applied by this call."""
    q = load_queries()
    key = advisory_key("migrate", schema)
    applied_now: list[int] = []
    with connect_direct(url) as conn:
        try:
            conn.execute(q["migrations_lock"].encode(), {"key": key})
            try:
                conn.execute(compose(q["migrations_create_schema"], schema=schema))
                conn.execute(compose(q["migrations_set_search_path"], schema=schema))
                conn.execute(q["migrations_bootstrap"].encode())
                done = {r["version"] for r in conn.execute(q["migrations_applied"].encode())}
                for version, name, text in migration_files():
                    if version in done:
                        continue
                    with conn.transaction():
                        conn.execute(text.encode())
                        conn.execute(q["migrations_record"].encode(), {
                            "version": version, "name": name, "now_ms": int(time.time() * 1000)})
                    applied_now.append(version)
                    log.info("migration_applied", version=version, migration=name, schema=schema)
            finally:
                conn.execute(q["migrations_unlock"].encode(), {"key": key})
        except psycopg.Error as exc:
            raise translate(exc) from None
    return applied_now

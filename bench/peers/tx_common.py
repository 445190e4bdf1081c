"""The transaction kind (`tx`) shared by the dbos-workers and dbos peers: one transaction per
workflow that inserts one row into bench_tx.tx_items, on the system's bench database (each
datasource keeps its checkpoint table in schema bench_tx). Runs inside each system's venv."""

from __future__ import annotations

import os
from typing import Any

import harness

SCHEMA = "bench_tx"


def url() -> str:
    """The bench database (set at import time: datasources are created before launch)."""
    return os.environ.get("BENCH_URL") or harness.url_from_argv()


def reset_tables(database_url: str) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.tx_items (i INT NOT NULL)")
        conn.execute(f"TRUNCATE {SCHEMA}.tx_items")
        if conn.execute(f"SELECT to_regclass('{SCHEMA}.datasource_outputs')").fetchone()[0]:
            conn.execute(f"TRUNCATE {SCHEMA}.datasource_outputs")


def insert(session: Any, i: int) -> None:
    from sqlalchemy import text

    session.execute(text(f"INSERT INTO {SCHEMA}.tx_items (i) VALUES (:i)"), {"i": i})

"""App for the Postgres-restart chaos test: 3-step workflows whose steps append to a side table."""

from __future__ import annotations

import os

import psycopg

from dbos_workers import DBOS, Queue

URL = os.environ["CHAOS_URL"]
SCHEMA = os.environ["CHAOS_SCHEMA"]

DBOS(config={"name": "chaos-restart", "system_database_url": URL, "dbos_system_schema": SCHEMA,
             "worker_processes": 2, "log_level": "ERROR", "executor_id": "chaos-host"})
work = Queue("work")


@DBOS.step(retries_allowed=True, max_attempts=20, interval_seconds=0.2, backoff_rate=1.5)
def side_effect(n: int, k: int) -> int:
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("INSERT INTO chaos_effects (n, k) VALUES (%s, %s)", (n, k))
    return n * 10 + k


@DBOS.workflow()
def three_steps(n: int) -> list[int]:
    return [side_effect(n, k) for k in range(3)]


@DBOS.workflow()
def waiter() -> str:
    """Waits in recv across the restarts, then publishes what it got as an event."""
    message = DBOS.recv("go", timeout_seconds=120)
    DBOS.set_event("got", message)
    return str(message)

"""App for the kill-storm chaos test: 3-step workflows whose steps append (n, k, pid) to a
side-effect table through a per-thread connection."""

from __future__ import annotations

import os
import threading
import time

import psycopg

from dbos_workers import DBOS, Queue

URL = os.environ["CHAOS_URL"]
SCHEMA = os.environ["CHAOS_SCHEMA"]

DBOS(config={"name": "chaos-storm", "system_database_url": URL, "dbos_system_schema": SCHEMA,
             "worker_processes": 2, "worker_threads": 8, "log_level": "ERROR",
             "executor_id": "storm-host", "executor_lease_sec": 2})
work = Queue("storm")
_local = threading.local()


def _conn() -> psycopg.Connection[tuple[object, ...]]:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed or getattr(_local, "pid", None) != os.getpid():
        conn = psycopg.connect(URL, autocommit=True)
        _local.conn, _local.pid = conn, os.getpid()
    return conn


@DBOS.step()
def effect(n: int, k: int) -> int:
    time.sleep(0.02)  # simulated work, so the storm has something to interrupt
    _conn().execute("INSERT INTO storm_effects (n, k, pid) VALUES (%s, %s, %s)", (n, k, os.getpid()))
    return n * 10 + k


@DBOS.workflow()
def three_steps(n: int) -> list[int]:
    return [effect(n, k) for k in range(3)]

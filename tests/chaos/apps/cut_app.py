"""App for the dropped-connection chaos test."""

from __future__ import annotations

import os

from dbos_workers import DBOS, Queue

DBOS(config={"name": "chaos-cut", "system_database_url": os.environ["CHAOS_URL"],
             "dbos_system_schema": os.environ["CHAOS_SCHEMA"], "worker_processes": 2,
             "log_level": "ERROR", "executor_id": "cut-host"})
work = Queue("cut")


@DBOS.step()
def double(n: int) -> int:
    return n * 2


@DBOS.step()
def plus_one(n: int) -> int:
    return n + 1


@DBOS.workflow()
def two_steps(n: int) -> int:
    return plus_one(double(n))

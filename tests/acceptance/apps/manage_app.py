"""Service app for the management acceptance tests (`dbos-workers start` it; the tests then
use only DBOSClient and the `dbos-workers workflow ...` CLI, never this module).

`manage-add` is a quick job; `manage-three` is three recorded steps (the side log counts
each run); `manage-slow` is a loop of 0.1 s recorded steps."""

from __future__ import annotations

import os
import time

from dbos_workers import DBOS, Queue
from tests.acceptance.apps.sidelog import record

SIDELOG = os.environ["ACC_SIDELOG"]

DBOS(config={
    "name": "acc-manage",
    "system_database_url": os.environ["ACC_DB_URL"],
    "dbos_system_schema": os.environ["ACC_SCHEMA"],
    "executor_id": os.environ["ACC_EXECUTOR_ID"],
    "worker_processes": int(os.environ.get("ACC_WORKER_PROCESSES", "1")),
})

Queue("acc_manage")


@DBOS.workflow(name="manage-add")
def add(a: int, b: int) -> int:
    return a + b


@DBOS.step(name="manage-step")
def mark(key: str, n: int) -> str:
    record(SIDELOG, step="mark", key=key, n=n)
    return f"{key}{n}"


@DBOS.workflow(name="manage-three")
def three(key: str) -> str:
    return "-".join(mark(key, n) for n in (1, 2, 3))


@DBOS.step(name="manage-tick")
def tick(key: str, k: int) -> int:
    record(SIDELOG, step="tick", key=key, k=k)
    time.sleep(0.1)
    return k


@DBOS.workflow(name="manage-slow")
def slow(key: str, ticks: int) -> int:
    return sum(tick(key, k) for k in range(ticks))

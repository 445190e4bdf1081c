"""Service app for the operating tests: a step that logs through `DBOS.logger` (stdlib) and
a workflow that fails. Loaded in the test process with ACC_WORKER_PROCESSES=0 to enqueue."""

from __future__ import annotations

import os

from dbos_workers import DBOS, Queue

DBOS(config={
    "name": "acc-ops",
    "system_database_url": os.environ["ACC_DB_URL"],
    "dbos_system_schema": os.environ["ACC_SCHEMA"],
    "executor_id": os.environ["ACC_EXECUTOR_ID"],
    "worker_processes": int(os.environ.get("ACC_WORKER_PROCESSES", "1")),
})

ops = Queue("acc_ops")


@DBOS.step()
def say(x: int) -> int:
    DBOS.logger.info("step says %s", x)
    return x


@DBOS.workflow()
def chatty(x: int) -> int:
    DBOS.logger.info("workflow before its step")
    return say(x) + say(x + 1)


@DBOS.workflow()
def broken(x: int) -> int:
    raise ValueError(f"broken {x}")

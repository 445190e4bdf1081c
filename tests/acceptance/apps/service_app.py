"""Service app for `dbos-workers start tests/acceptance/apps/service_app.py`.

Also loaded in the test process with ACC_WORKER_PROCESSES=0 to enqueue and wait.
`double` is a quick job; `held` blocks in its second step until the file ACC_RELEASE exists;
`slow` is a loop of 0.1 s steps.
"""

from __future__ import annotations

import os
import time

from dbos_workers import DBOS, Queue
from tests.acceptance.apps.sidelog import record, wait_for_file

SIDELOG = os.environ["ACC_SIDELOG"]
RELEASE = os.environ.get("ACC_RELEASE", "")

DBOS(config={
    "name": "acc-service",
    "system_database_url": os.environ["ACC_DB_URL"],
    "dbos_system_schema": os.environ["ACC_SCHEMA"],
    "executor_id": os.environ["ACC_EXECUTOR_ID"],
    "worker_processes": int(os.environ.get("ACC_WORKER_PROCESSES", "2")),
})

jobs = Queue("acc_service_jobs")


@DBOS.step()
def where(x: int) -> int:
    record(SIDELOG, step="where", x=x)
    return os.getpid()


@DBOS.workflow()
def double(x: int) -> dict[str, int]:
    return {"x": x, "double": 2 * x, "pid": where(x)}


@DBOS.step()
def prepare(key: str) -> str:
    record(SIDELOG, step="prepare", key=key)
    return f"prepared-{key}"


@DBOS.step()
def hold(key: str) -> str:
    record(SIDELOG, step="hold", key=key)
    wait_for_file(RELEASE, timeout=60)
    return f"released-{key}"


@DBOS.workflow()
def held(key: str) -> list[str]:
    result = [prepare(key), hold(key)]
    record(SIDELOG, step="held_done", key=key)
    return result


@DBOS.step()
def tick(key: str, k: int) -> int:
    record(SIDELOG, step="tick", key=key, k=k)
    time.sleep(0.1)  # the workflow's own pace
    return k


@DBOS.workflow()
def slow(key: str, ticks: int) -> int:
    """About ticks/10 seconds of steps."""
    return sum(tick(key, k) for k in range(ticks))

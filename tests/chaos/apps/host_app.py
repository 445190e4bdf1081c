"""One simulated host for the network-namespace chaos tests, run as
`ip netns exec <ns> dbos-workers start tests/chaos/apps/host_app.py`.

Environment: HA_DB_URL, HA_SCHEMA, HA_HOST (the executor id), HA_LOG_DIR (side logs),
HA_LEASE_SEC, HA_THREADS, HA_STEP_SEC.

Every execution is appended to `HA_LOG_DIR/<host>.jsonl` (one O_APPEND write per record, on
the shared file system, so a partitioned host's executions are visible too): `tick` each time
the per-second schedule's body runs, `step` each time a step of `job` runs, `recv` each time
`mailbox` got a message. Outputs name the host that ran the workflow body to its end, so the
committed outcome says who committed it.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

from dbos_workers import DBOS, Queue
from tests.acceptance.apps.sidelog import record

HOST = os.environ["HA_HOST"]
LOG = Path(os.environ["HA_LOG_DIR"]) / f"{HOST}.jsonl"
STEP_SEC = float(os.environ.get("HA_STEP_SEC", "0.5"))

DBOS(config={
    "name": "chaos-hosts",
    "system_database_url": os.environ["HA_DB_URL"],
    "dbos_system_schema": os.environ["HA_SCHEMA"],
    "executor_id": HOST,
    "executor_lease_sec": float(os.environ.get("HA_LEASE_SEC", "2")),
    "worker_processes": 1,
    "worker_threads": int(os.environ.get("HA_THREADS", "8")),
})

work = Queue("chaos_hosts")


def now_ms() -> int:
    return int(time.time() * 1000)


@DBOS.scheduled("* * * * * *")
@DBOS.workflow()
def every_second(scheduled: dt.datetime, actual: dt.datetime) -> str:
    record(LOG, kind="tick", tick=scheduled.isoformat(), wf=DBOS.workflow_id, host=HOST, ms=now_ms())
    return scheduled.isoformat()


@DBOS.step()
def job_step(key: str, n: int) -> int:
    record(LOG, kind="step", wf=DBOS.workflow_id, key=key, step=n, host=HOST, ms=now_ms())
    time.sleep(STEP_SEC)
    return n


@DBOS.workflow()
def job(key: str, steps: int) -> dict[str, Any]:
    done = [job_step(key, n) for n in range(steps)]
    return {"key": key, "steps": done, "host": HOST}


@DBOS.workflow()
def mailbox(key: str, count: int) -> dict[str, Any]:
    got = []
    for _ in range(count):
        message = DBOS.recv("mail", timeout_seconds=300)
        record(LOG, kind="recv", wf=DBOS.workflow_id, key=key, message=message, host=HOST, ms=now_ms())
        got.append(message)
    return {"key": key, "messages": got, "host": HOST}

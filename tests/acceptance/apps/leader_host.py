"""One "host" for the multi-host leader tests: run as a script, it launches a worker pool and
waits for SIGTERM. Several run at once with different executor ids on one database schema.

Environment: LH_DB_URL, LH_SCHEMA, LH_EXECUTOR_ID, LH_LEASE_SEC, LH_WORKERS (worker processes),
LH_THREADS (worker_threads), LH_HOLD=1 (step two of `three_steps` blocks forever on this host),
LH_ENQUEUE (a workflow id: enqueue `three_steps` under it after launch), LH_BATCH
(`prefix:count`: enqueue that many `two_slow_steps` as prefix-0, prefix-1, ... once the file
LH_GO exists, if set), LH_STEP_SEC (how long each of their steps sleeps).

Side tables (created by the test in the same schema) make every execution countable:
`lh_ticks` gets a row each time the scheduled workflow's body runs, `lh_steps` each time a step
of `three_steps` runs.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time

import psycopg

from dbos_workers import DBOS, Queue, SetWorkflowID

URL = os.environ["LH_DB_URL"]
SCHEMA = os.environ["LH_SCHEMA"]
HOST = os.environ["LH_EXECUTOR_ID"]
HOLD = os.environ.get("LH_HOLD") == "1"

DBOS(config={
    "name": "leader-hosts",
    "system_database_url": URL,
    "dbos_system_schema": SCHEMA,
    "executor_id": HOST,
    "executor_lease_sec": float(os.environ.get("LH_LEASE_SEC", "2")),
    "worker_processes": int(os.environ.get("LH_WORKERS", "1")),
    "worker_threads": int(os.environ.get("LH_THREADS", "64")),
})

work = Queue("lh_work")


def side_insert(statement: str, *params: object) -> None:
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(SCHEMA)))
        conn.execute(statement.encode(), params)


def now_ms() -> int:
    return int(time.time() * 1000)


@DBOS.scheduled("* * * * * *")
@DBOS.workflow()
def every_second(scheduled: dt.datetime, actual: dt.datetime) -> str:
    side_insert("INSERT INTO lh_ticks (scheduled_at, workflow_id, host, executor_id, pid, recorded_ms) "
                "VALUES (%s, %s, %s, %s, %s, %s)", scheduled.isoformat(), DBOS.workflow_id, HOST,
                DBOS.executor_id, os.getpid(), now_ms())
    return scheduled.isoformat()


def record_step(step: int) -> None:
    side_insert("INSERT INTO lh_steps (workflow_id, step, host, pid, recorded_ms) VALUES (%s, %s, %s, %s, %s)",
                DBOS.workflow_id, step, HOST, os.getpid(), now_ms())


@DBOS.step()
def step_one() -> int:
    record_step(1)
    return 1


@DBOS.step()
def step_two() -> int:
    record_step(2)
    if HOLD:
        threading.Event().wait()  # this host is killed while the workflow sits here
    return 2


@DBOS.step()
def step_three() -> int:
    record_step(3)
    return 3


@DBOS.workflow()
def three_steps() -> list[int]:
    return [step_one(), step_two(), step_three()]


@DBOS.step()
def slow_step(step: int) -> int:
    record_step(step)
    time.sleep(float(os.environ.get("LH_STEP_SEC", "1.5")))
    return step


@DBOS.workflow()
def two_slow_steps() -> list[int]:
    return [slow_step(1), slow_step(2)]


def enqueue_batch(spec: str, stop: threading.Event) -> None:
    prefix, _, count = spec.partition(":")
    go = os.environ.get("LH_GO")
    while go and not os.path.exists(go) and not stop.wait(0.05):
        pass
    for i in range(int(count)):
        with SetWorkflowID(f"{prefix}-{i}"):
            work.enqueue(two_slow_steps)


def main() -> None:
    DBOS.launch()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if os.environ.get("LH_ENQUEUE"):
        with SetWorkflowID(os.environ["LH_ENQUEUE"]):
            work.enqueue(three_steps)
    if os.environ.get("LH_BATCH"):
        enqueue_batch(os.environ["LH_BATCH"], stop)
    stop.wait()
    DBOS.destroy(workflow_completion_timeout_sec=1)


if __name__ == "__main__":
    main()

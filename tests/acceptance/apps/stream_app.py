"""Stream crash-recovery app: a writer and a reader workflow, inline, no worker pool.

ACC_PHASE=crash starts the writer (three values, then a step that blocks forever: the test
SIGKILLs the whole process there, before values 3 and 4 and the close) and a reader workflow
that runs a step per value it reads. ACC_PHASE=recover launches again with the same executor
id: both workflows are recovered and replayed; it prints their results as JSON on stdout.
"""

from __future__ import annotations

import json
import os
import threading

from dbos_workers import DBOS, SetWorkflowID
from tests.acceptance.apps.sidelog import record

SIDELOG = os.environ["ACC_SIDELOG"]
PHASE = os.environ["ACC_PHASE"]

DBOS(config={
    "name": "acc-streams",
    "system_database_url": os.environ["ACC_DB_URL"],
    "dbos_system_schema": os.environ["ACC_SCHEMA"],
    "executor_id": os.environ["ACC_EXECUTOR_ID"],
    "worker_processes": 0,
})


@DBOS.step()
def pause() -> None:
    record(SIDELOG, step="pause", phase=PHASE)
    if PHASE == "crash":
        threading.Event().wait()  # never returns: the test kills the process here


@DBOS.step()
def seen(value: int) -> int:
    record(SIDELOG, step="seen", value=value, phase=PHASE)
    return value


@DBOS.workflow()
def writer() -> None:
    for i in range(3):
        DBOS.write_stream("numbers", i)
    pause()
    for i in range(3, 5):
        DBOS.write_stream("numbers", i)
    DBOS.close_stream("numbers")


@DBOS.workflow()
def reader(target: str) -> list[int]:
    return [seen(v) for v in DBOS.read_stream(target, "numbers")]


if __name__ == "__main__":
    DBOS.launch()
    if PHASE == "crash":
        with SetWorkflowID("stream-writer"):
            DBOS.start_workflow(writer)  # its row exists when this returns: the reader finds it
        with SetWorkflowID("stream-reader"):
            DBOS.start_workflow(reader, "stream-writer")
        threading.Event().wait()  # the test kills the process
    else:
        DBOS.retrieve_workflow("stream-writer").get_result(timeout=30)
        result = DBOS.retrieve_workflow("stream-reader").get_result(timeout=30)
        print(json.dumps({"reader": result, "stream": list(DBOS.read_stream("stream-writer", "numbers"))}),
              flush=True)
    DBOS.destroy()

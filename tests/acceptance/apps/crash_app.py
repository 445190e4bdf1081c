"""Crash-recovery app: one inline workflow of two steps, no worker pool.

ACC_PHASE=crash starts workflow ACC_WORKFLOW_ID and blocks inside its second step (the test
SIGKILLs the whole process there); ACC_PHASE=recover launches again with the same executor id,
waits for the recovered workflow and prints its result as JSON on stdout.
"""

from __future__ import annotations

import json
import os
import threading

from dbos_workers import DBOS, SetWorkflowID
from tests.acceptance.apps.sidelog import record

SIDELOG = os.environ["ACC_SIDELOG"]
PHASE = os.environ["ACC_PHASE"]
WORKFLOW_ID = os.environ["ACC_WORKFLOW_ID"]

DBOS(config={
    "name": "acc-crash",
    "system_database_url": os.environ["ACC_DB_URL"],
    "dbos_system_schema": os.environ["ACC_SCHEMA"],
    "executor_id": os.environ["ACC_EXECUTOR_ID"],
    "worker_processes": 0,
})


@DBOS.step()
def step_one(order: int) -> str:
    record(SIDELOG, step="one", phase=PHASE)
    return f"one-{order}"


@DBOS.step()
def step_two(order: int) -> str:
    record(SIDELOG, step="two", phase=PHASE)
    if PHASE == "crash":
        threading.Event().wait()  # never returns: the test kills the process here
    return f"two-{order}"


@DBOS.workflow()
def checkout(order: int) -> list[str]:
    return [step_one(order), step_two(order)]


if __name__ == "__main__":
    DBOS.launch()
    if PHASE == "crash":
        with SetWorkflowID(WORKFLOW_ID):
            checkout(7)
    else:
        result = DBOS.retrieve_workflow(WORKFLOW_ID).get_result(timeout=30)
        print(json.dumps({"result": result}), flush=True)
    DBOS.destroy()

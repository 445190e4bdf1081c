"""Whole-tree crash app: a queued workflow of two steps run by a pool of 2 workers.

ACC_PHASE=crash enqueues workflow ACC_WORKFLOW_ID, whose second step blocks (the test SIGKILLs
the app, the supervisor and the workers at once); ACC_PHASE=recover launches again with the
same executor id and prints the result and how long it waited, as JSON on stdout.
The executor lease is long (30 s), so only the fast path (slot recovery of dead holders) can
resume the workflow within the test's deadline.
"""

from __future__ import annotations

import json
import os
import threading
import time

from dbos_workers import DBOS, Queue, SetWorkflowID
from tests.acceptance.apps.sidelog import record

SIDELOG = os.environ["ACC_SIDELOG"]
PHASE = os.environ["ACC_PHASE"]
WORKFLOW_ID = os.environ["ACC_WORKFLOW_ID"]

DBOS(config={
    "name": "acc-tree",
    "system_database_url": os.environ["ACC_DB_URL"],
    "dbos_system_schema": os.environ["ACC_SCHEMA"],
    "executor_id": os.environ["ACC_EXECUTOR_ID"],
    "worker_processes": 2,
    "executor_lease_sec": 30.0,
})
orders = Queue("acc_tree_orders")


@DBOS.step()
def step_one(order: int) -> str:
    record(SIDELOG, step="one", phase=PHASE)
    return f"one-{order}"


@DBOS.step()
def step_two(order: int) -> str:
    record(SIDELOG, step="two", phase=PHASE)
    if PHASE == "crash":
        threading.Event().wait()  # never returns: the test kills the whole tree here
    return f"two-{order}"


@DBOS.workflow()
def checkout(order: int) -> list[str]:
    return [step_one(order), step_two(order)]


if __name__ == "__main__":
    DBOS.launch()
    if PHASE == "crash":
        with SetWorkflowID(WORKFLOW_ID):
            orders.enqueue(checkout, 9)
        threading.Event().wait()
    else:
        began = time.monotonic()
        result = DBOS.retrieve_workflow(WORKFLOW_ID).get_result(timeout=20)
        print(json.dumps({"result": result, "waited": time.monotonic() - began}), flush=True)
        DBOS.destroy()

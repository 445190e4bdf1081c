"""Async crash-recovery app: one async workflow of two async steps, called directly on the
app's own loop (asyncio.run), no worker pool.

ACC_PHASE=crash starts workflow ACC_WORKFLOW_ID and awaits forever inside its second step
(the test SIGKILLs the process there); ACC_PHASE=recover launches again with the same
executor id (the workflow is recovered onto the process's loop thread), awaits the result
with the async handle and prints it as JSON on stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading

from dbos_workers import DBOS, SetWorkflowID
from tests.acceptance.apps.sidelog import record

SIDELOG = os.environ["ACC_SIDELOG"]
PHASE = os.environ["ACC_PHASE"]
WORKFLOW_ID = os.environ["ACC_WORKFLOW_ID"]

DBOS(config={
    "name": "acc-async-crash",
    "system_database_url": os.environ["ACC_DB_URL"],
    "dbos_system_schema": os.environ["ACC_SCHEMA"],
    "executor_id": os.environ["ACC_EXECUTOR_ID"],
    "worker_processes": 0,
})


@DBOS.step()
async def step_one(order: int) -> str:
    record(SIDELOG, step="one", phase=PHASE)
    return f"one-{order}"


@DBOS.step()
async def step_two(order: int) -> str:
    record(SIDELOG, step="two", phase=PHASE, thread=threading.current_thread().name)
    if PHASE == "crash":
        await asyncio.Event().wait()  # never returns: the test kills the process here
    return f"two-{order}"


@DBOS.workflow()
async def checkout(order: int) -> list[str]:
    return [await step_one(order), await step_two(order)]


async def main() -> None:
    if PHASE == "crash":
        with SetWorkflowID(WORKFLOW_ID):
            await checkout(7)
    else:
        handle = await DBOS.retrieve_workflow_async(WORKFLOW_ID)
        print(json.dumps({"result": await handle.get_result(timeout=30)}), flush=True)


if __name__ == "__main__":
    DBOS.launch()
    asyncio.run(main())
    DBOS.destroy()

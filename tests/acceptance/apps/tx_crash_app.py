"""Transaction crash app: one inline workflow, a transaction that inserts an order, then a step.

ACC_PHASE=commit: the workflow blocks right after the transaction committed, before its next
step (so the system database has no record of the transaction yet; the test SIGKILLs there).
ACC_PHASE=inside: the transaction's function blocks after its INSERT, before the commit.
ACC_PHASE=recover: launches again with the same executor id, waits for the recovered workflow
and prints its result as JSON on stdout.
"""

from __future__ import annotations

import json
import os
import threading

import sqlalchemy as sa

from dbos_workers import DBOS, SetWorkflowID, SQLAlchemyDatasource
from tests.acceptance.apps.sidelog import record

SIDELOG = os.environ["ACC_SIDELOG"]
PHASE = os.environ["ACC_PHASE"]
WORKFLOW_ID = os.environ["ACC_WORKFLOW_ID"]
SCHEMA = os.environ["ACC_SCHEMA"]

DBOS(config={
    "name": "acc-tx-crash",
    "system_database_url": os.environ["ACC_DB_URL"],
    "dbos_system_schema": SCHEMA,
    "executor_id": os.environ["ACC_EXECUTOR_ID"],
    "worker_processes": 0,
})
ds = SQLAlchemyDatasource.create(os.environ["ACC_DB_URL"], schema=SCHEMA)


@ds.transaction()
def place(order: int) -> str:
    record(SIDELOG, step="tx", phase=PHASE)
    ds.sql_session().execute(sa.text(f'INSERT INTO "{SCHEMA}".tx_orders VALUES (:o, :p)'),
                             {"o": order, "p": PHASE})
    if PHASE == "inside":
        record(SIDELOG, step="tx_inserted", phase=PHASE)
        threading.Event().wait()  # never returns: killed before the commit
    return f"placed-{order}"


@DBOS.step()
def ship(order: int) -> str:
    record(SIDELOG, step="ship", phase=PHASE)
    return f"shipped-{order}"


@DBOS.workflow()
def checkout(order: int) -> list[str]:
    placed = place(order)
    if PHASE == "commit":
        record(SIDELOG, step="committed", phase=PHASE)
        threading.Event().wait()  # never returns: killed between the commit and the next step
    return [placed, ship(order)]


if __name__ == "__main__":
    DBOS.launch()
    if PHASE != "recover":
        with SetWorkflowID(WORKFLOW_ID):
            checkout(7)
    else:
        result = DBOS.retrieve_workflow(WORKFLOW_ID).get_result(timeout=30)
        print(json.dumps({"result": result}), flush=True)
    DBOS.destroy()

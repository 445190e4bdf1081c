"""Example app: an order pipeline on a queue, run by the worker pool.

    dbos-workers start examples.app            # the service (Procfile: worker)
    python -m examples.enqueue 100             # enqueue work from another process
    python -m examples.demo                    # the two-command demo: launch, enqueue, wait
"""

from __future__ import annotations

import os

from dbos_workers import DBOS, DBOSConfig, Queue

config: DBOSConfig = {
    "name": "example-app",
    "system_database_url": os.environ.get("DBOS_SYSTEM_DATABASE_URL"),
    "worker_processes": int(os.environ.get("WORKER_PROCESSES", "2")),
}
DBOS(config=config)

orders = Queue("orders", worker_concurrency=8)


@DBOS.step()
def reserve_stock(order_id: int) -> str:
    return f"reserved-{order_id}"


@DBOS.step()
def charge_card(order_id: int) -> str:
    return f"charged-{order_id}"


@DBOS.workflow()
def process_order(order_id: int) -> dict[str, object]:
    reservation = reserve_stock(order_id)
    payment = charge_card(order_id)
    DBOS.set_event("stage", "done")
    return {"order": order_id, "reservation": reservation, "payment": payment, "pid": os.getpid()}

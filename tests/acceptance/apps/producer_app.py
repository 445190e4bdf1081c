"""A producer for the kill -9 test: 16 threads enqueue as fast as they can (their enqueues
share group-committed statements) and print each acknowledged workflow id, flushed, only after
enqueue returned. Env: ACC_DB_URL, ACC_SCHEMA, ACC_EXECUTOR_ID."""

from __future__ import annotations

import os
import sys
import threading

from dbos_workers import DBOS, Queue

DBOS(config={"name": "producer-app", "system_database_url": os.environ["ACC_DB_URL"],
             "dbos_system_schema": os.environ["ACC_SCHEMA"], "executor_id": os.environ["ACC_EXECUTOR_ID"],
             "worker_processes": 0, "log_level": "WARNING"})
queue = Queue("produced")
out_lock = threading.Lock()


@DBOS.workflow()
def item(thread: int, i: int) -> int:
    return thread * 1_000_000 + i


def produce(thread: int) -> None:
    i = 0
    while True:
        handle = queue.enqueue(item, thread, i)
        with out_lock:
            sys.stdout.write(handle.workflow_id + "\n")
            sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    DBOS.launch()
    for t in range(16):
        threading.Thread(target=produce, args=(t,), daemon=True).start()
    threading.Event().wait()

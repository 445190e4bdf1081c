"""The README's first command: launch the example on the embedded Postgres, run 200 orders
through the worker pool, print where they ran, shut down cleanly."""

from __future__ import annotations

import os
import time

from dbos_workers import DBOS
from examples.app import orders, process_order


def main() -> None:
    DBOS.launch()
    started = time.monotonic()
    handles = [orders.enqueue(process_order, i) for i in range(200)]
    results = [h.get_result() for h in handles]
    elapsed = time.monotonic() - started
    pids = sorted({r["pid"] for r in results})
    print(f"200 durable order workflows done in {elapsed:.2f}s on worker processes {pids} "
          f"(app process {os.getpid()})")
    print("first:", results[0])
    DBOS.destroy(workflow_completion_timeout_sec=5)


if __name__ == "__main__":
    main()

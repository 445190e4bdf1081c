"""Enqueue N orders into the running example service and wait for them (no workers here)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("WORKER_PROCESSES", "0")

from dbos_workers import DBOS
from examples.app import orders, process_order


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    DBOS.launch()
    handles = [orders.enqueue(process_order, i) for i in range(n)]
    results = [h.get_result() for h in handles]
    print(f"{len(results)} orders processed by worker pids {sorted({r['pid'] for r in results})}")
    DBOS.destroy()


if __name__ == "__main__":
    main()

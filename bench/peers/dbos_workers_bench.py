"""dbos-workers under the shared harness. Workflows and the queue are declared at module level,
before DBOS.launch(): the library forks its worker pool at launch, and the forked workers
inherit the registry and the shared timestamp arrays.

Settings: worker_processes = --procs, worker_threads = the library's default (64) unless
`--option dbos-workers:threads=N` names one (the driver's --threads is the job queues'
concurrency), the library's defaults otherwise. With --queues Q (the queues scenario) item i
goes to queue i % Q (`bench`, `bench-q0001`, ...), and --empty-queues E declares E more
(`bench-empty-000`, ...) that stay empty; all of them are declared before any launch, so the
producer and the forked pool know the same queues. --retention-sec (the soak) sets
workflow_retention_sec; `--option dbos-workers:affinity=auto|true|false` sets
worker_cpu_affinity.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness
import tx_common

from dbos_workers import DBOS, Queue, SQLAlchemyDatasource

queue = Queue("bench")
ds = SQLAlchemyDatasource.create(tx_common.url(), schema=tx_common.SCHEMA)


@ds.transaction()
def tx_insert(i: int) -> int:
    tx_common.insert(ds.sql_session(), i)
    return i


@DBOS.workflow()
def wftx(i: int) -> int:
    harness.mark_start(i)
    tx_insert(i)
    harness.mark_end(i)
    return i


@DBOS.step()
def noop_step(i: int) -> int:
    return i


@DBOS.step()
def cpu_step(iters: int) -> int:
    return harness.burn(iters)


@DBOS.workflow()
def wf0(i: int) -> int:
    harness.mark_start(i)
    harness.mark_end(i)
    return i


@DBOS.workflow()
def wf1(i: int) -> int:
    harness.mark_start(i)
    noop_step(i)
    harness.mark_end(i)
    return i


@DBOS.workflow()
def wf3(i: int) -> int:
    harness.mark_start(i)
    noop_step(i)
    noop_step(i)
    noop_step(i)
    harness.mark_end(i)
    return i


@DBOS.workflow()
def wfcpu(i: int, iters: int) -> int:
    harness.mark_start(i)
    cpu_step(iters)
    harness.mark_end(i)
    return i


@DBOS.step()
async def sleep_step(i: int) -> int:
    await asyncio.sleep(0.1)
    return i


@DBOS.workflow()
async def wfasync(i: int) -> int:
    harness.mark_start(i)
    await sleep_step(i)
    harness.mark_end(i)
    return i


WORKFLOWS = {"0": wf0, "1": wf1, "3": wf3, "tx": wftx, "async": wfasync}


class DbosWorkers(harness.Adapter):
    name = "dbos-workers"
    remaining_sql = ("SELECT count(*) FROM dbos_workers.workflow_status "
                     "WHERE queue_name = 'bench' AND status IN ('ENQUEUED', 'PENDING')")

    retained_tables = ("dbos_workers.workflow_status", "dbos_workers.operation_outputs")  # the soak's

    def __init__(self, url: str, args: Any) -> None:
        super().__init__(url, args)
        self.queues = [queue, *(Queue(f"bench-q{k:04d}") for k in range(1, args.queues))]
        self.empty = [Queue(f"bench-empty-{k:03d}") for k in range(args.empty_queues)]
        if args.queues > 1:
            self.remaining_sql = self.remaining_sql.replace("queue_name = 'bench'", "queue_name LIKE 'bench%'")
        self.last_finished_sql = ("SELECT max(completed_at) / 1000.0 FROM dbos_workers.workflow_status "
                                  "WHERE queue_name LIKE 'bench%'")  # the queues scenario's drain end
        self.threads = int(args.options["threads"]) if "threads" in args.options else None
        # --option dbos-workers:metrics=1: the same run with enable_metrics (Prometheus, every process)
        self.metrics = str(args.options.get("metrics", "0")).lower() in ("1", "true", "on", "yes")
        self.settings = {"worker_processes": args.procs,
                         "worker_threads": self.threads or "library default (64)",
                         "enable_metrics": self.metrics, "queues": len(self.queues),
                         "empty_queues": len(self.empty), "workflow_retention_sec": args.retention_sec,
                         "worker_cpu_affinity": args.options.get("affinity", "library default (auto)"),
                         "other": "library defaults"}

    def _launch(self, procs: int) -> None:
        config: dict[str, Any] = {"name": "bench", "system_database_url": self.url,
                                  "worker_processes": procs, "log_level": "WARNING",
                                  "executor_id": f"bench-{os.getpid()}"}
        if self.threads:
            config["worker_threads"] = self.threads
        if self.metrics:
            config["enable_metrics"] = True
        if "affinity" in self.args.options:  # --option dbos-workers:affinity=auto|true|false
            value = str(self.args.options["affinity"]).lower()
            config["worker_cpu_affinity"] = value if value == "auto" else value in ("1", "true", "on", "yes")
        if self.args.retention_sec is not None:
            config["workflow_retention_sec"] = self.args.retention_sec
        DBOS(config=config)  # type: ignore[arg-type]
        DBOS.launch()

    def reset(self) -> None:
        DBOS(config={"name": "bench", "system_database_url": self.url, "worker_processes": 0,
                     "log_level": "WARNING"})
        DBOS.reset_system_database()
        DBOS.destroy()
        tx_common.reset_tables(self.url)

    def open_producer(self) -> None:
        self._launch(0)

    def close_producer(self) -> None:
        DBOS.destroy(workflow_completion_timeout_sec=5)

    def enqueue(self, kind: str, i: int) -> Any:
        if kind == "cpu":
            return queue.enqueue(wfcpu, i, self.args.cpu_iters)
        return self.queues[i % len(self.queues)].enqueue(WORKFLOWS[kind], i)

    def enqueue_batch(self, kind: str, indices: list[int]) -> Any:
        return queue.enqueue_many(WORKFLOWS[kind], [(i,) for i in indices])

    def wait_result(self, handle: Any, timeout: float) -> None:
        handle.get_result(timeout=timeout)

    def start_workers(self, procs: int) -> None:
        # Latency/steady keep the producer's app process: relaunch it with a worker pool.
        if DBOS._instance is not None:
            DBOS.destroy(workflow_completion_timeout_sec=5)
        self._launch(procs)

    def stop_workers(self) -> None:
        DBOS.destroy(workflow_completion_timeout_sec=5)


if __name__ == "__main__":
    harness.main(DbosWorkers)

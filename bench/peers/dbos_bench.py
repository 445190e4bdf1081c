"""The `dbos` package (DBOS Transact) under the shared harness.

Producer: this process, a launched DBOS app that listens to no user queue
(`DBOS.listen_queues([])`), enqueueing with `queue.enqueue` and waiting with
`handle.get_result()` (both DBOS defaults). Consumers: --procs separate processes (spawned),
each a launched DBOS app with its own executor_id (`w0`, `w1`, ...), as DBOS documents for
several processes without Conductor. Each runs DBOS's queue worker thread, which polls the
queue every `polling_interval_sec` (default 1.0 s, override with --option poll=SECONDS) and
claims every runnable row it may (no worker_concurrency by default, override with
--option worker_concurrency=K) into an unbounded executor thread pool.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness
import tx_common
from dbos import DBOS, SQLAlchemyDatasource

APP_VERSION = "bench-1"  # the same on producer and consumers, so consumers dequeue its rows
ds = SQLAlchemyDatasource.create(tx_common.url(), schema=tx_common.SCHEMA)


@ds.transaction()
def tx_insert(i: int) -> int:
    tx_common.insert(ds.sql_session(), i)
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


@DBOS.workflow()
def wftx(i: int) -> int:
    harness.mark_start(i)
    tx_insert(i)
    harness.mark_end(i)
    return i


WORKFLOWS = {"0": wf0, "1": wf1, "3": wf3, "tx": wftx}


def _config(url: str, executor_id: str) -> dict[str, Any]:
    return {"name": "bench", "system_database_url": url, "log_level": "WARNING",
            "executor_id": executor_id, "application_version": APP_VERSION}


def consumer_main(url: str, executor_id: str, shared: dict[str, Any], stop: Any) -> None:
    harness.install_shared(shared)
    DBOS(config=_config(url, executor_id))  # type: ignore[arg-type]
    DBOS.launch()
    stop.wait()
    DBOS.destroy(workflow_completion_timeout_sec=5)
    os._exit(0)


class Dbos(harness.Adapter):
    name = "dbos"
    remaining_sql = ("SELECT count(*) FROM dbos.workflow_status "
                     "WHERE queue_name = 'bench' AND status IN ('ENQUEUED', 'PENDING')")

    def __init__(self, url: str, args: Any) -> None:
        super().__init__(url, args)
        opts = args.options
        self.poll = float(opts.get("poll", 1.0))
        wc = opts.get("worker_concurrency")
        self.worker_concurrency = int(wc) if wc else None
        self.ctx = mp.get_context("spawn")
        self.procs: list[Any] = []
        self.stop = self.ctx.Event()
        self.queue: Any = None
        self.launched = False
        self.settings = {"polling_interval_sec": self.poll, "worker_concurrency": self.worker_concurrency,
                         "executor_threads": "unbounded (DBOS default)", "get_result_poll_s": 1.0}

    def reset(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS dbos CASCADE")
        tx_common.reset_tables(self.url)

    def open_producer(self) -> None:
        DBOS(config=_config(self.url, "producer"))  # type: ignore[arg-type]
        DBOS.listen_queues([])
        DBOS.launch()
        self.queue = DBOS.register_queue("bench", polling_interval_sec=self.poll,
                                         worker_concurrency=self.worker_concurrency)
        self.launched = True

    def close_producer(self) -> None:
        if self.launched:
            DBOS.destroy(workflow_completion_timeout_sec=5)
            self.launched = False

    def enqueue(self, kind: str, i: int) -> Any:
        if kind == "cpu":
            return self.queue.enqueue(wfcpu, i, self.args.cpu_iters)
        return self.queue.enqueue(WORKFLOWS[kind], i)

    def wait_result(self, handle: Any, timeout: float) -> None:
        box: list[Any] = []
        t = threading.Thread(target=lambda: box.append(handle.get_result()), daemon=True)
        t.start()
        t.join(timeout)

    def start_workers(self, procs: int) -> None:
        self.stop.clear()
        for k in range(procs):
            p = self.ctx.Process(target=consumer_main, args=(self.url, f"w{k}", dict(harness.SHARED), self.stop))
            p.start()
            self.procs.append(p)

    def stop_workers(self) -> None:
        self.stop.set()
        for p in self.procs:
            p.join(30)
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
                p.join(5)
        self.procs = []
        time.sleep(0.1)


if __name__ == "__main__":
    harness.main(Dbos)

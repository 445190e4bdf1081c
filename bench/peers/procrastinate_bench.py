"""procrastinate under the shared harness.

A job queue, not a durable-workflow engine: no step checkpoints and no stored return values,
so only the 0-step workflow (one job), the cpu job (burn inline) and the async job (one
100 ms asyncio.sleep, concurrency 5000 per worker) are comparable, and
enqueue->result is not measured. Producer: `task.defer(...)` (sync API, psycopg pool).
Consumers: --procs spawned processes, each `app.run_worker(queues=["bench"], concurrency=C)`
with async tasks; C = --threads (16) for the no-op job, 1 for the CPU job (procrastinate's
documented advice: no concurrency for blocking tasks). LISTEN/NOTIFY on (default), fetch
polling fallback 5 s (default), jobs kept after success (default, delete_jobs never). Bulk
enqueue: `task.batch_defer(*kwargs)` (sync API). Many queues (--queues Q, --empty-queues E):
job i is deferred with `job0.configure(queue=...)` onto queue i % Q (`bench`, `bench-q0001`,
...), and every worker runs with `queues=` all Q + E names.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness
import procrastinate

ASYNC_CONCURRENCY = 5000  # the async kind's concurrency per worker (--option procrastinate:concurrency=N)
URL = os.environ.setdefault("BENCH_URL", harness.url_from_argv())
app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=URL))


@app.task(name="job0", queue="bench")
async def job0(i: int) -> None:
    harness.mark_start(i)
    harness.mark_end(i)


@app.task(name="jobasync", queue="bench")
async def jobasync(i: int) -> None:
    harness.mark_start(i)
    await asyncio.sleep(0.1)
    harness.mark_end(i)


@app.task(name="jobcpu", queue="bench")
async def jobcpu(i: int, iters: int) -> None:
    harness.mark_start(i)
    harness.burn(iters)
    harness.mark_end(i)


def consumer_main(url: str, shared: dict[str, Any], concurrency: int, queues: list[str]) -> None:
    harness.install_shared(shared)
    app.run_worker(queues=queues, concurrency=concurrency, wait=True, install_signal_handlers=True)
    os._exit(0)


class Procrastinate(harness.Adapter):
    name = "procrastinate"
    has_results = False
    remaining_sql = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"

    def __init__(self, url: str, args: Any) -> None:
        super().__init__(url, args)
        if args.kind in ("1", "3"):
            raise SystemExit("procrastinate has no step checkpoints: only kinds 0 and cpu")
        self.concurrency = 1 if args.kind == "cpu" else args.threads
        if args.kind == "async":  # many awaiting jobs at once is the point of async tasks
            self.concurrency = int(args.options.get("concurrency", ASYNC_CONCURRENCY))
        self.ctx = mp.get_context("spawn")
        self.procs: list[Any] = []
        self.opened = False
        self.queues = ["bench", *(f"bench-q{k:04d}" for k in range(1, args.queues))]
        self.empty = [f"bench-empty-{k:03d}" for k in range(args.empty_queues)]
        self.settings = {"concurrency": self.concurrency, "listen_notify": True,
                         "fetch_job_polling_interval": 5.0, "tasks": "async",
                         "queues": len(self.queues), "empty_queues": len(self.empty)}

    def reset(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        with app.open():
            app.schema_manager.apply_schema()

    def open_producer(self) -> None:
        app.open()
        self.opened = True

    def close_producer(self) -> None:
        if self.opened:
            app.close()
            self.opened = False

    def enqueue(self, kind: str, i: int) -> Any:
        if kind == "cpu":
            return jobcpu.defer(i=i, iters=self.args.cpu_iters)
        if kind == "async":
            return jobasync.defer(i=i)
        if len(self.queues) > 1:
            return job0.configure(queue=self.queues[i % len(self.queues)]).defer(i=i)
        return job0.defer(i=i)

    def enqueue_batch(self, kind: str, indices: list[int]) -> Any:
        assert kind == "0"
        return job0.batch_defer(*({"i": i} for i in indices))

    def start_workers(self, procs: int) -> None:
        for _ in range(procs):
            p = self.ctx.Process(target=consumer_main, args=(self.url, dict(harness.SHARED), self.concurrency,
                                                             self.queues + self.empty))
            p.start()
            self.procs.append(p)

    def stop_workers(self) -> None:
        for p in self.procs:
            os.kill(p.pid, signal.SIGTERM)
        for p in self.procs:
            p.join(30)
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
                p.join(5)
        self.procs = []


if __name__ == "__main__":
    harness.main(Procrastinate)

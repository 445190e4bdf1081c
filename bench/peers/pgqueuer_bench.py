"""pgqueuer under the shared harness.

A job queue, not a durable-workflow engine: no step checkpoints and no stored return values,
so only the 0-step workflow (one job), the cpu job and the async job (one 100 ms asyncio.sleep)
are comparable, and enqueue->result is
not measured. Producer: pgqueuer's synchronous `SyncQueries.enqueue` (one psycopg autocommit
connection per producer thread). Consumers: --procs spawned processes, each an asyncpg
connection driving `PgQueuer.run()` with the documented defaults (batch_size=10, no
max_concurrent_tasks, LISTEN/NOTIFY with polling fallback, durable tables). pgqueuer requires
async entrypoints; the cpu job burns the CPU inline in its coroutine. Bulk enqueue: one
`SyncQueries.enqueue` call with lists of entrypoints, payloads and priorities. Many queues
(--queues Q, --empty-queues E): pgqueuer routes by entrypoint, so queue k is the no-op
entrypoint `job0-q{k}` (queue 0 is `job0`); every consumer registers all Q + E of them.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import sys
import threading
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness

BATCH_SIZE = 10  # PgQueuer.run() default


async def _consume(url: str, batch_size: int, names: list[str]) -> None:
    import asyncpg
    from pgqueuer import PgQueuer
    from pgqueuer.db import AsyncpgDriver

    conn = await asyncpg.connect(url)
    pgq = PgQueuer(AsyncpgDriver(conn))

    async def job0(job: Any) -> None:
        i = int(job.payload)
        harness.mark_start(i)
        harness.mark_end(i)

    for name in names:  # "job0", and the other queues' entrypoints (--queues, --empty-queues)
        pgq.entrypoint(name)(job0)

    @pgq.entrypoint("jobasync")
    async def jobasync(job: Any) -> None:
        i = int(job.payload)
        harness.mark_start(i)
        await asyncio.sleep(0.1)
        harness.mark_end(i)

    @pgq.entrypoint("jobcpu")
    async def jobcpu(job: Any) -> None:
        i, iters = (int(x) for x in job.payload.split(b","))
        harness.mark_start(i)
        harness.burn(iters)
        harness.mark_end(i)

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, pgq.shutdown.set)
    await pgq.run(batch_size=batch_size)
    await conn.close()


def consumer_main(url: str, shared: dict[str, Any], batch_size: int, names: list[str]) -> None:
    harness.install_shared(shared)
    asyncio.run(_consume(url, batch_size, names))
    os._exit(0)


class PgQueuerAdapter(harness.Adapter):
    name = "pgqueuer"
    has_results = False
    remaining_sql = "SELECT count(*) FROM pgqueuer"

    def __init__(self, url: str, args: Any) -> None:
        super().__init__(url, args)
        if args.kind in ("1", "3"):
            raise SystemExit("pgqueuer has no step checkpoints: only kinds 0 and cpu")
        self.batch_size = int(args.options.get("batch_size", BATCH_SIZE))
        self.ctx = mp.get_context("spawn")
        self.procs: list[Any] = []
        self.local = threading.local()
        self.conns: list[Any] = []
        self.lock = threading.Lock()
        self.entrypoints = ["job0", *(f"job0-q{k:04d}" for k in range(1, args.queues))]
        self.empty = [f"job0-empty-{k:03d}" for k in range(args.empty_queues)]
        self.settings = {"batch_size": self.batch_size, "driver": "asyncpg (consumers)",
                         "producer": "SyncQueries + psycopg", "entrypoints": len(self.entrypoints),
                         "empty_entrypoints": len(self.empty)}

    def reset(self) -> None:
        import asyncpg
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.queries import Queries

        async def run() -> None:
            conn = await asyncpg.connect(self.url)
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            await Queries(AsyncpgDriver(conn)).install()
            await conn.close()

        asyncio.run(run())

    def open_producer(self) -> None: ...

    def _queries(self) -> Any:
        q = getattr(self.local, "queries", None)
        if q is None:
            import psycopg
            from pgqueuer.db import SyncPsycopgDriver
            from pgqueuer.queries import SyncQueries

            conn = psycopg.connect(self.url, autocommit=True)
            with self.lock:
                self.conns.append(conn)
            q = self.local.queries = SyncQueries(SyncPsycopgDriver(conn))
        return q

    def close_producer(self) -> None:
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            c.close()
        self.local = threading.local()

    def enqueue(self, kind: str, i: int) -> Any:
        if kind == "cpu":
            return self._queries().enqueue("jobcpu", f"{i},{self.args.cpu_iters}".encode())
        if kind == "async":
            return self._queries().enqueue("jobasync", str(i).encode())
        return self._queries().enqueue(self.entrypoints[i % len(self.entrypoints)], str(i).encode())

    def enqueue_batch(self, kind: str, indices: list[int]) -> Any:
        assert kind == "0"
        return self._queries().enqueue(["job0"] * len(indices), [str(i).encode() for i in indices],
                                       [0] * len(indices))

    def start_workers(self, procs: int) -> None:
        for _ in range(procs):
            names = self.entrypoints + self.empty
            p = self.ctx.Process(target=consumer_main,
                                 args=(self.url, dict(harness.SHARED), self.batch_size, names))
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
    harness.main(PgQueuerAdapter)

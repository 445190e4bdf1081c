"""The async lane of a worker's executor: async workflows are claimed like any other (the
same statements, the same ledger) but run as tasks on the process's loop thread, up to
`worker_async_concurrency` at once, beside the thread slots of sync workflows.

The thread lane's claim takes rows of any name (an async one it claims goes to the loop);
it claims no more than the async lane has room for, so the loop never holds more than its
capacity; while the loop is full, free threads claim rows of the other names only
(`claim_for_threads`). The async lane's own claim (`workflow_claim_named`) takes only async
names, so a worker whose threads are busy still fills its loop."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import metrics
from ..db.records import ClaimedWorkflow
from ..registry import Registry, WorkflowInfo

CLAIM_BATCH = 1000  # rows per claim statement of the async lane
THREADS_RETRY_SEC = 0.5  # a full loop's sync-only claim that found nothing waits this long

if TYPE_CHECKING:
    from ..runtime import Runtime
    from ..worker.claimer import Claimer


def is_async(info: WorkflowInfo | None) -> bool:
    return info is not None and inspect.iscoroutinefunction(info.func)


def runs_on_loop(registry: Registry, name: str) -> bool:
    return is_async(registry.workflows.get(name))


class AsyncLane:
    def __init__(self, rt: Runtime, claimer: Claimer, capacity: int, freed: Callable[[], None]) -> None:
        self.rt, self.claimer, self.capacity, self.freed = rt, claimer, capacity, freed
        self._version = -1
        self._names: list[str] = []
        self._threads_idle_until = 0.0
        self.backlogged = False  # the last claim found async rows: more may wait
        self._idle_until = 0.0  # a claim that found no async row: not again before this
        claimer.cap = self.room  # the thread lane claims no more than the loop has room for

    def names(self) -> list[str]:
        registry = self.rt.registry
        if registry.version != self._version:
            self._version = registry.version
            self._names = [n for n, info in list(registry.workflows.items()) if is_async(info)]
        return self._names

    def free(self) -> int:
        """Async slots free (0 in a process without async workflows)."""
        if not self.names():
            return 0
        return max(0, self.capacity - self.rt.inflight.on_loop())

    def wants_claim(self) -> bool:
        """A finished async workflow wakes the claim loop only while a backlog waits and a
        batch fits (a quarter of the loop, at most one claim statement's worth)."""
        return self.backlogged and self.free() >= max(1, min(CLAIM_BATCH, self.capacity // 4))

    def room(self) -> int | None:
        """The thread lane's cap: None without async workflows."""
        return None if not self.names() else self.free()

    def claim(self) -> list[ClaimedWorkflow]:
        n, names = min(self.free(), CLAIM_BATCH), self.names()
        queues = self.claimer.plan.unlimited
        if n <= 0 or not names or not queues or time.monotonic() < self._idle_until:
            return []
        rt = self.rt
        rows = rt.db.workflows.claim_named(queues, n, names=names, executor_id=rt.executor_id,
                                           owner_instance=rt.instance_id)
        self.backlogged = bool(rows)  # async work at the heads: look again at once
        if not rows:  # no async row at the queues' heads: the thread claim (any name) takes
            self._idle_until = time.monotonic() + THREADS_RETRY_SEC  # new ones meanwhile
        for row in rows:
            rt.inflight.claimed(row.workflow_id, row.queue_name, row.partition_key, on_loop=True,
                                token=row.owner_token)
            metrics.workflow_claimed(row.queue_name, row.created_at, row.started_at)
            rt.log.debug("workflow_claimed", workflow_id=row.workflow_id, queue=row.queue_name, lane="async")
        return rows

    def claim_for_threads(self) -> list[ClaimedWorkflow]:
        """While the loop is full, the thread lane (capped by the loop's room) would claim
        nothing: claim rows of the other (sync) names for the free threads instead."""
        names, claimer = self.names(), self.claimer
        if not names or self.free() > 0 or time.monotonic() < self._threads_idle_until:
            return []
        held, executing = self.rt.inflight.counts()
        n = min(claimer.capacity - held, claimer.limit() - executing, CLAIM_BATCH)
        queues = claimer.plan.unlimited
        if n <= 0 or not queues:
            return []
        rt = self.rt
        rows = rt.db.workflows.claim_named(queues, n, names=names, include=False,
                                           executor_id=rt.executor_id, owner_instance=rt.instance_id)
        for row in rows:
            rt.inflight.claimed(row.workflow_id, row.queue_name, row.partition_key, token=row.owner_token)
            metrics.workflow_claimed(row.queue_name, row.created_at, row.started_at)
        if not rows:  # it walks past the loop's backlog: not again for a while
            self._threads_idle_until = time.monotonic() + THREADS_RETRY_SEC
        return rows

    def dispatch(self, row: ClaimedWorkflow) -> bool:
        """Run an async row as a task on the loop (True); False: a sync row, for a thread."""
        if not runs_on_loop(self.rt.registry, row.name):
            return False
        from .runner import run_claimed

        self.rt.aio.loop.submit(run_claimed(self.rt, row, self.freed))
        return True

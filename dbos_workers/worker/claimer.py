"""The claimer: how many workflows this worker may hold now, and the claim statements.

Unlimited queues share one `FOR UPDATE SKIP LOCKED` claim. A queue with a global concurrency
or a rate limiter claims inside a transaction holding a per-queue advisory lock, so every
claimer on every host counts the same committed rows. worker_concurrency is counted in the
in-flight ledger. Every claimed row enters the ledger before the claim returns, so the next
`free()` already counts it.
"""

from __future__ import annotations

from ..db.records import ClaimedWorkflow
from ..queue import Queue
from ..runtime import Runtime
from .budget import CpuBudget


class Claimer:
    def __init__(self, rt: Runtime, queues: list[Queue], capacity: int,
                 budget: CpuBudget | None = None) -> None:
        self.rt, self.capacity = rt, capacity
        self.budget = budget or CpuBudget()
        self.unlimited = [q.name for q in queues if not q.limits.shared_budget
                          and q.limits.worker_concurrency is None]
        self.special = [q for q in queues if q.name not in self.unlimited]
        self.names = {q.name for q in queues}

    def limit(self) -> int:
        """How many workflows to hold now: the thread count, lowered for CPU-heavy ones."""
        return self.budget.limit(self.capacity)

    def free(self) -> int:
        """Slots to claim for: the thread count minus what is held, and for CPU-heavy
        workflows the CPU budget minus what still has CPU work to do (CpuBudget): a finished
        workflow waiting for its outcome's commit costs no CPU here."""
        held, executing = self.rt.inflight.counts()
        return max(0, min(self.capacity - held, self.limit() - executing))

    def claim(self) -> list[ClaimedWorkflow]:
        """Claim what fits now, queues with limits first; each row is in the ledger."""
        claimed: list[ClaimedWorkflow] = []
        for queue in self.special:
            claimed += self._claim_special(queue)
        n = self.free()
        if self.unlimited and n > 0:
            claimed += self._enter(self.rt.db.workflows.claim(
                self.unlimited, n, executor_id=self.rt.executor_id, owner_instance=self.rt.instance_id))
        return claimed

    def _claim_special(self, queue: Queue) -> list[ClaimedWorkflow]:
        lim, rt = queue.limits, self.rt
        n = self.free()
        if lim.worker_concurrency is not None:
            n = min(n, lim.worker_concurrency - rt.inflight.held_in(queue.name))
        if n <= 0:
            return []
        if not lim.shared_budget:
            rows = rt.db.workflows.claim([queue.name], n, executor_id=rt.executor_id,
                                         owner_instance=rt.instance_id)
        else:
            rows = rt.db.workflows.claim_limited(
                queue.name, n, concurrency=lim.concurrency, rate_limit=lim.rate_limit,
                rate_period_sec=lim.rate_period_sec, schema=rt.settings.schema,
                executor_id=rt.executor_id, owner_instance=rt.instance_id)
        return self._enter(rows)

    def _enter(self, rows: list[ClaimedWorkflow]) -> list[ClaimedWorkflow]:
        for row in rows:
            self.rt.inflight.claimed(row.workflow_id, row.queue_name)
            self.rt.log.debug("workflow_claimed", workflow_id=row.workflow_id, queue=row.queue_name)
        return rows

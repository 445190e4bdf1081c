"""The claimer: claims up to the free executor slots in one committed statement per queue
group and hands rows to the executor pool. Wakes on `q:` notifications, polls as a backstop.

Unlimited queues share one `FOR UPDATE SKIP LOCKED` claim. A queue with a global concurrency
or a rate limiter claims inside a transaction holding a per-queue advisory lock, so every
claimer on every host counts the same committed rows. worker_concurrency is counted in memory.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from ..db.migrate import advisory_key
from ..db.repository import Row, Tx
from ..queue import Queue
from ..runtime import Runtime
from .budget import CpuBudget

Dispatch = Callable[[Row, str], None]


class Claimer:
    def __init__(self, rt: Runtime, queues: list[Queue], capacity: int, dispatch: Dispatch,
                 stopped: threading.Event | None = None) -> None:
        self.rt, self.capacity, self.dispatch = rt, capacity, dispatch
        self.unlimited = [q.name for q in queues if not q.limits.shared_budget
                          and q.limits.worker_concurrency is None]
        self.special = [q for q in queues if q.name not in self.unlimited]
        self.names = {q.name for q in queues}
        self.wake = threading.Event()
        self.claim_lock = threading.Lock()  # one claim at a time (loop or listener thread)
        self.budget = CpuBudget()
        self.stopped = stopped or threading.Event()  # set when the worker drains: claim nothing
        self._lock = threading.Lock()
        self.running = 0  # held: claimed, outcome not yet durable
        self.executing = 0  # held and not yet returned from its thread
        self.running_by_queue: dict[str, int] = {}
        self.want = 1  # free slots at which a finishing workflow wakes the claim loop
        rt.waiters.on_queue(self._on_queue)

    def _on_queue(self, queue: str | None) -> None:
        """A NOTIFY (listener thread). When no claim is running, claim right here: a thread
        hand-off less between the enqueue and the start. Otherwise wake the claim loop."""
        if queue is not None and queue not in self.names:
            return
        if queue is not None and self.free() > 0 and self.claim_lock.acquire(blocking=False):
            try:
                self._claim_all()
                return
            except Exception:  # the claim loop retries with its backoff
                pass
            finally:
                self.claim_lock.release()
        self.wake.set()

    def ran(self, cpu: float) -> None:
        """A held workflow's thread is done with it after `cpu` seconds of thread CPU (its
        outcome may still be on its way)."""
        self.budget.record(cpu)
        with self._lock:
            self.executing -= 1
        self._freed()

    def finished(self, queue: str | None) -> None:
        with self._lock:
            self.running -= 1
            if queue is not None:
                self.running_by_queue[queue] = self.running_by_queue.get(queue, 1) - 1
        self._freed()

    def _freed(self) -> None:
        """Wake the claim loop only once `want` slots are free: each wake-up of a thread takes
        the GIL from the workflows that are running (see Worker._gather)."""
        if self.free() >= self.want:
            self.wake.set()

    def limit(self) -> int:
        """How many workflows to hold now: the thread count, lowered for CPU-heavy ones."""
        return self.budget.limit(self.capacity)

    def free(self) -> int:
        """Slots to claim for: the thread count minus what is held, and for CPU-heavy
        workflows the CPU budget minus what still has CPU work to do (CpuBudget): a finished
        workflow waiting for its outcome's commit costs no CPU here."""
        with self._lock:
            running, executing = self.running, self.executing
        return max(0, min(self.capacity - running, self.limit() - executing))

    def claim_once(self) -> int:
        """Claim and dispatch what fits now; returns how many rows were claimed."""
        with self.claim_lock:
            return self._claim_all()

    def _claim_all(self) -> int:
        if self.stopped.is_set():
            return 0
        claimed = 0
        for queue in self.special:
            claimed += self._claim_special(queue)
        if self.unlimited and self.free() > 0:
            claimed += self._claim(lambda tx, token, n: tx.all(
                "workflow_claim_batch", queues=self.unlimited, n=n, **self._params(token)), self.free())
        return claimed

    def _params(self, token: str) -> dict[str, object]:
        rt = self.rt
        return {"executor_id": rt.executor_id, "owner_token": token,
                "owner_instance": rt.instance_id, "now_ms": rt.clock.now_ms()}

    def _claim_special(self, queue: Queue) -> int:
        lim = queue.limits
        n = self.free()
        if lim.worker_concurrency is not None:
            with self._lock:
                n = min(n, lim.worker_concurrency - self.running_by_queue.get(queue.name, 0))
        if n <= 0:
            return 0
        if not lim.shared_budget:
            return self._claim(lambda tx, token, k: tx.all(
                "workflow_claim_batch", queues=[queue.name], n=k, **self._params(token)), n)

        def limited(tx: Tx, token: str, k: int) -> list[Row]:
            tx.one("queue_claim_lock", key=advisory_key("queue", self.rt.settings.schema, queue.name))
            period_ms = int((lim.rate_period_sec or 0) * 1000)
            return tx.all("workflow_claim_limited", queue=queue.name, n=k,
                          concurrency=lim.concurrency, rate_limit=lim.rate_limit,
                          rate_period_ms=period_ms, rate_limited=lim.rate_limit is not None,
                          **self._params(token))

        return self._claim(limited, n, transaction=True)

    def _claim(self, fn: Callable[[Tx, str, int], list[Row]], n: int,
               transaction: bool = False) -> int:
        token = uuid.uuid4().hex
        rows = self.rt.repo.call(lambda tx: fn(tx, token, n), transaction=transaction, retry=False)
        with self._lock:
            self.running += len(rows)
            self.executing += len(rows)
            for row in rows:
                q = row["queue_name"]
                self.running_by_queue[q] = self.running_by_queue.get(q, 0) + 1
        for row in rows:
            self.rt.log.debug("workflow_claimed", workflow_id=row["workflow_uuid"],
                              queue=row["queue_name"])
            self.dispatch(row, token)
        return len(rows)

"""The claimer: how many workflows this process may hold now, what it claims, and the claim
statements.

Unlimited queues share one `FOR UPDATE SKIP LOCKED` claim. A queue with a global concurrency
or a rate limiter claims inside a transaction holding a per-queue advisory lock, so every
claimer on every host counts the same committed rows. worker_concurrency is counted in the
in-flight ledger. Every claimed row enters the ledger before the claim returns, so the next
`free()` already counts it.

A claimer never claims a workflow whose name it does not know: such rows at the head of an
unlimited queue are parked (they wait for a process that knows the name) and the claimer
claims parked rows of the names it knows (`claim_parked`). What it claims is a `ClaimPlan`,
rebuilt whenever the registry changes (workflows and queues may be registered after launch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from ..db.records import ClaimedWorkflow
from ..queue import Queue
from ..registry import Registry
from ..runtime import Runtime
from .budget import CpuBudget

log = structlog.get_logger("dbos_workers.claimer")


@dataclass(frozen=True)
class ClaimPlan:
    queues: tuple[Queue, ...]  # claimed from (names in `names`; other names parked)
    names: tuple[str, ...]  # workflow names this process runs
    parked_names: tuple[str, ...]  # names whose parked rows it claims ...
    parked_queues: tuple[str, ...]  # ... on these queues

    @property
    def unlimited(self) -> list[str]:
        return [q.name for q in self.queues if not q.limits.shared_budget
                and q.limits.worker_concurrency is None]


def _unlimited(queues: list[Queue]) -> tuple[str, ...]:
    return tuple(q.name for q in queues if not q.limits.shared_budget and q.limits.worker_concurrency is None)


def pool_plan(registry: Registry) -> ClaimPlan:
    """A worker: every queue and workflow it was forked with (or registered since)."""
    queues, names = list(registry.queues.values()), tuple(registry.workflows)
    return ClaimPlan(tuple(queues), names, names, _unlimited(queues))


def late_plan(registry: Registry, launched_queues: set[str], launched_names: set[str]) -> ClaimPlan:
    """The app process: what its workers lack. It claims from queues registered after launch
    and claims parked rows of workflows registered after launch, on any queue it knows."""
    queues = list(registry.queues.values())
    late_queues = tuple(q for q in queues if q.name not in launched_queues)
    late_names = tuple(n for n in registry.workflows if n not in launched_names)
    return ClaimPlan(late_queues, tuple(registry.workflows), late_names, _unlimited(queues))


class Claimer:
    def __init__(self, rt: Runtime, capacity: int, budget: CpuBudget | None = None,
                 plan: Callable[[Registry], ClaimPlan] = pool_plan) -> None:
        self.rt, self.capacity = rt, capacity
        self.budget = budget or CpuBudget()
        self._make_plan = plan
        self._version = -1
        self._plan = plan(rt.registry)
        self._warned: set[str] = set()

    @property
    def plan(self) -> ClaimPlan:
        registry = self.rt.registry
        if registry.version != self._version:
            self._version = registry.version
            self._plan = self._make_plan(registry)
            self._names, self._unlimited = list(self._plan.names), self._plan.unlimited
        return self._plan

    def serves(self, queue: str) -> bool:
        return any(q.name == queue for q in self.plan.queues)

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
        plan, rt = self.plan, self.rt
        claimed: list[ClaimedWorkflow] = []
        for queue in plan.queues:
            if queue.name not in self._unlimited:
                claimed += self._claim_special(queue)
        n = self.free()
        if self._unlimited and n > 0:
            rows, parked = rt.db.workflows.claim(self._unlimited, n, names=self._names,
                                                 executor_id=rt.executor_id,
                                                 owner_instance=rt.instance_id)
            claimed += self._enter(rows)
            self._warn_parked(parked)
        return claimed

    def claim_parked(self) -> list[ClaimedWorkflow]:
        """Parked rows of the names this process runs (woken by `p:`, and on a slow poll)."""
        plan, rt, n = self.plan, self.rt, self.free()
        if n <= 0 or not plan.parked_names or not plan.parked_queues:
            return []
        return self._enter(rt.db.workflows.claim_parked(
            list(plan.parked_names), list(plan.parked_queues), n, executor_id=rt.executor_id,
            owner_instance=rt.instance_id))

    def _claim_special(self, queue: Queue) -> list[ClaimedWorkflow]:
        lim, rt = queue.limits, self.rt
        n = self.free()
        if lim.worker_concurrency is not None:
            n = min(n, lim.worker_concurrency - rt.inflight.held_in(queue.name))
        if n <= 0:
            return []
        if not lim.shared_budget:
            rows, parked = rt.db.workflows.claim([queue.name], n, names=self._names,
                                                 executor_id=rt.executor_id,
                                                 owner_instance=rt.instance_id)
            self._warn_parked(parked)
        else:
            rows = rt.db.workflows.claim_limited(
                queue.name, n, names=self._names, concurrency=lim.concurrency,
                rate_limit=lim.rate_limit, rate_period_sec=lim.rate_period_sec,
                schema=rt.settings.schema, executor_id=rt.executor_id,
                owner_instance=rt.instance_id)
        return self._enter(rows)

    def _enter(self, rows: list[ClaimedWorkflow]) -> list[ClaimedWorkflow]:
        for row in rows:
            self.rt.inflight.claimed(row.workflow_id, row.queue_name)
            self.rt.log.debug("workflow_claimed", workflow_id=row.workflow_id, queue=row.queue_name)
        return rows

    def _warn_parked(self, names: list[str]) -> None:
        for name in names:
            if name not in self._warned:
                self._warned.add(name)
                self.rt.log.warning("workflow_name_unknown_parked", workflow_name=name,
                                    hint="no workflow of this name is registered in this process; "
                                         "its runs wait for a process that registers it")

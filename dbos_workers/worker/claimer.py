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

from .. import metrics, queue_limits
from ..aio.lane import runs_on_loop
from ..classes import class_fqn, meta_of
from ..db.records import ClaimedWorkflow, QueueSettings
from ..registry import INTERNAL_QUEUE, Registry
from ..runtime import Runtime
from .budget import CpuBudget
from .queuewalk import QueueWalk

log = structlog.get_logger("dbos_workers.claimer")
PlanFn = Callable[[Registry, list[QueueSettings]], "ClaimPlan"]


@dataclass(frozen=True)
class ClaimPlan:
    queues: tuple[QueueSettings, ...]  # claimed from (names in `names`; other names parked)
    names: tuple[str, ...]  # workflow names this process runs
    parked_names: tuple[str, ...]  # names whose parked rows it claims ...
    parked_queues: tuple[str, ...]  # ... on these (unlimited) queues
    instances: tuple[str, ...] = ()  # class instances ("<class>/<config>") whose rows it runs

    @property
    def unlimited(self) -> list[str]:
        return [q.name for q in self.queues if queue_limits.unlimited(q)]


def served_queues(registry: Registry, catalog: list[QueueSettings]) -> list[QueueSettings]:
    """The queues a pool serves: those its code declares and every queue row of its
    application (a row wins: it holds the limits as set_* left them), narrowed by
    listen_queues (the internal queue is always served)."""
    by_name = {q.name: q.settings() for q in registry.queues.values()}
    by_name.update({q.name: q for q in catalog})
    listen = registry.listen
    return [q for name, q in sorted(by_name.items())
            if listen is None or name in listen or name == INTERNAL_QUEUE]


def pool_plan(registry: Registry, catalog: list[QueueSettings]) -> ClaimPlan:
    """A worker: every queue it serves and every workflow it knows."""
    queues, names = served_queues(registry, catalog), tuple(registry.workflows)
    return ClaimPlan(tuple(queues), names, names,
                     tuple(q.name for q in queues if queue_limits.unlimited(q)), tuple(registry.instances))


def late_plan(registry: Registry, catalog: list[QueueSettings], launched_names: set[str],
              launched_instances: frozenset[str] = frozenset()) -> ClaimPlan:
    """The app process: parked rows of workflows registered after launch (its workers, forked
    before, park them) and of the methods of class instances registered after launch (see
    classes.py), on every queue it knows."""
    queues = served_queues(registry, catalog)
    late_names = [n for n in registry.workflows if n not in launched_names]
    late_classes = {class_fqn(type(inst)) for key, inst in list(registry.instances.items())
                    if key not in launched_instances}
    if late_classes:
        for name, info in list(registry.workflows.items()):
            meta = meta_of(info.func)
            if meta is not None and meta.class_info is not None and name not in late_names \
                    and meta.class_info.registered_name in late_classes:
                late_names.append(name)
    return ClaimPlan((), tuple(registry.workflows), tuple(late_names),
                     tuple(q.name for q in queues if queue_limits.unlimited(q)), tuple(registry.instances))


class Claimer:
    def __init__(self, rt: Runtime, capacity: int, budget: CpuBudget | None = None,
                 plan: PlanFn = pool_plan) -> None:
        self.rt, self.capacity = rt, capacity
        self.budget = budget or CpuBudget()
        self._make_plan = plan
        self._version: tuple[int, int] = (-1, -1)
        self.catalog: list[QueueSettings] = []  # this application's queue rows (reload_queues)
        self._catalog_version = 0
        self._warned: set[str] = set()
        self.cap: Callable[[], int | None] = lambda: None  # the async lane's room (aio/lane.py)
        # Round robin over the unlimited queues; those found empty are left out until a `q:`
        # NOTIFY, only where this process hears them (workers LISTEN on the work channel; the
        # app process's late claimer does not: it walks them all every time).
        self.walk = QueueWalk(rt.settings.polling_interval_sec if rt.role == "worker" else 0.0)

    def reload_queues(self) -> None:
        """Re-read the application's queue rows (on `Q:`, and on a slow poll)."""
        rows = self.rt.db.queues.find([self.rt.settings.name])
        if rows != self.catalog:
            self.catalog = rows
            self._catalog_version += 1

    @property
    def plan(self) -> ClaimPlan:
        return self._refresh()

    def _refresh(self) -> ClaimPlan:
        """The plan, rebuilt when the registry or the queue rows changed."""
        version = (self.rt.registry.version, self._catalog_version)
        if version != self._version:
            self._version = version
            self._plan = self._make_plan(self.rt.registry, self.catalog)
            self._names, self._unlimited = list(self._plan.names), self._plan.unlimited
            self._served = frozenset(q.name for q in self._plan.queues)
            unlimited = set(self._unlimited)  # (a list scan per queue per claim: 1,000 queues, 1M)
            self._special = [q for q in self._plan.queues if q.name not in unlimited]
        return self._plan

    def serves(self, queue: str) -> bool:
        """On every `q:` NOTIFY (listener thread): a set lookup, not a walk of the queues."""
        self._refresh()
        return queue in self._served

    def limit(self) -> int:
        """How many workflows to hold now: the thread count, lowered for CPU-heavy ones."""
        return self.budget.limit(self.capacity)

    def free(self) -> int:
        """Slots to claim for: the thread count minus what is held, and for CPU-heavy
        workflows the CPU budget minus what still has CPU work to do (CpuBudget): a finished
        workflow waiting for its outcome's commit costs no CPU here."""
        held, executing = self.rt.inflight.counts()
        free = max(0, min(self.capacity - held, self.limit() - executing))
        cap = self.cap()
        return free if cap is None else min(free, cap)

    def claim(self) -> list[ClaimedWorkflow]:
        """Claim what fits now, queues with limits first; each row is in the ledger."""
        rt = self.rt
        self._refresh()
        claimed: list[ClaimedWorkflow] = []
        for queue in self._special:
            claimed += self._claim_special(queue)
        n = self.free()
        if self._unlimited and n > 0:
            walked, mark = self.walk.begin(self._unlimited)
            if walked:  # all of them empty when last looked, and no NOTIFY since: no claim
                rows, parked = rt.db.workflows.claim(walked, n, names=self._names,
                                                     executor_id=rt.executor_id,
                                                     owner_instance=rt.instance_id)
                self.walk.found(self._unlimited, walked, [r.queue_name for r in rows],
                                len(rows) < n, mark)
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
            owner_instance=rt.instance_id, instances=plan.instances))

    def _claim_special(self, q: QueueSettings) -> list[ClaimedWorkflow]:
        rt = self.rt
        n = self.free()
        if q.worker_concurrency is not None:
            n = min(n, q.worker_concurrency - rt.inflight.held_in(q.name))
        if n <= 0:
            return []
        ids = dict(executor_id=rt.executor_id, owner_instance=rt.instance_id)
        if queue_limits.partitioned(q):
            held = rt.inflight.held_by_partition(q.name)
            rows = rt.db.workflows.claim_partitioned(q, n, names=self._names, held=held,
                                                     schema=rt.settings.schema, **ids)
        elif queue_limits.shared_budget(q):
            rows = rt.db.workflows.claim_limited(
                q.name, n, names=self._names, concurrency=q.concurrency, rate_limit=q.rate_limit_max,
                rate_period_sec=q.rate_limit_period_sec, schema=rt.settings.schema,
                instances=self.plan.instances, **ids)
        else:
            rows, parked = rt.db.workflows.claim([q.name], n, names=self._names, **ids)
            self._warn_parked(parked)
        return self._enter(rows)

    def _enter(self, rows: list[ClaimedWorkflow]) -> list[ClaimedWorkflow]:
        for row in rows:
            self.rt.inflight.claimed(row.workflow_id, row.queue_name, row.partition_key, token=row.owner_token,
                                     on_loop=runs_on_loop(self.rt.registry, row.name))
            metrics.workflow_claimed(row.queue_name, row.created_at, row.started_at)
            self.rt.log.debug("workflow_claimed", workflow_id=row.workflow_id, queue=row.queue_name)
        return rows

    def _warn_parked(self, names: list[str]) -> None:
        for name in names:
            if name not in self._warned:
                self._warned.add(name)
                self.rt.log.warning("workflow_name_unknown_parked", workflow_name=name,
                                    hint="no workflow of this name is registered in this process; "
                                         "its runs wait for a process that registers it")

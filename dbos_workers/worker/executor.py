"""The executor of a worker process: claim -> run -> hand the outcome to group commit -> free
the slot. A workflow's life, top-down:

1. `_claim`: the claimer claims what fits (one committed statement per queue group); each row
   enters the in-flight ledger (`rt.inflight`) as it is claimed.
2. `_execute` (an executor thread): `run_claimed` replays the recorded steps and runs the body.
3. The outcome goes to the group commit without waiting (`workflow.complete`); the thread
   takes the next workflow.
4. `_finished` (the flusher thread, once the outcome is durable): the ledger has released the
   workflow; the claim loop wakes if enough slots are free.

The claim loop runs on its own thread (this service); a NOTIFY claims on the listener thread
when no claim is under way (one thread hand-off less between enqueue and start). Drain: stop
claiming, let the ledger empty for up to the drain timeout, hand back what is left.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .. import metrics
from ..aio.lane import AsyncLane, runs_on_loop
from ..classes import bound_args
from ..context import WorkflowContext
from ..db.listener import wake_key
from ..db.records import ClaimedWorkflow
from ..db.repository import Backoff
from ..errors import DatabaseUnavailableError, DBOSWorkflowFunctionNotFoundError
from ..groupcommit import Then
from ..registry import INTERNAL_QUEUE, WorkflowInfo
from ..runtime import Runtime
from ..services import ThreadService
from ..workflow import complete, resume_context, run_detached
from .budget import CpuBudget
from .claimer import Claimer, PlanFn, pool_plan

GATHER_SEC = 0.003
SWEEP_SEC = 30.0
QUEUES_POLL_SEC = 5.0  # backstop for a lost `Q:` (queue rows registered or changed elsewhere)
PARKED_POLL_SEC = 10.0  # backstop for a lost `p:` (a parked row also waits for its name's registration)


def run_claimed(rt: Runtime, claimed: ClaimedWorkflow, on_durable: Then | None = None) -> None:
    """Run a claimed or recovered row to its outcome in this thread, replaying its steps.
    The ledger releases it when its outcome is durable: at once here without on_durable;
    with on_durable, once the group commit wrote it (then on_durable runs)."""
    if runs_on_loop(rt.registry, claimed.name):  # async (recovered at launch): a task on the loop
        from ..aio.runner import run_claimed as run_on_loop

        rt.aio.loop.submit(run_on_loop(rt, claimed, lambda: on_durable and on_durable(None)))
        return
    try:
        prepared = _prepare(rt, claimed)
        ctx = None if prepared is None else resume_context(rt, claimed)
    except BaseException:
        rt.inflight.release(claimed.workflow_id, claimed.owner_token)
        raise
    if prepared is None or ctx is None:
        rt.inflight.release(claimed.workflow_id, claimed.owner_token)
        return
    info, args, kwargs = prepared
    run_detached(rt, ctx, info, args, kwargs, on_durable)


def _prepare(rt: Runtime, claimed: ClaimedWorkflow) -> tuple[WorkflowInfo, tuple[Any, ...], dict[str, Any]] | None:
    """What running the row needs, or None once the row is dealt with here: past its recovery
    attempts (dead letter), no such workflow in this process (back to its queue, where it
    waits for a process that knows it), unreadable inputs (ERROR)."""
    limit = claimed.max_recovery_attempts
    if limit is not None and claimed.recovery_attempts > limit + 1:
        rt.db.workflows.dead_letter(claimed.workflow_id, claimed.owner_token)
        metrics.dead_lettered()
        rt.log.warning("workflow_dead_lettered", workflow_id=claimed.workflow_id,
                       attempts=claimed.recovery_attempts)
        return None
    info = rt.registry.workflows.get(claimed.name)
    if info is None:  # taken over at launch, before its workflow was registered: never fail it
        rt.db.workflows.requeue([claimed.workflow_id], refund=True, default_queue=INTERNAL_QUEUE,
                                owner_tokens=[claimed.owner_token])
        rt.log.warning("workflow_name_unknown_requeued", workflow_id=claimed.workflow_id,
                       workflow_name=claimed.name)
        return None
    stub = WorkflowContext(workflow_id=claimed.workflow_id, owner_token=claimed.owner_token,
                           name=claimed.name, recorded={}, queue_name=claimed.queue_name)
    try:
        inputs: dict[str, Any] = rt.serializer.deserialize(claimed.inputs or "")
        args, kwargs = tuple(inputs["args"]), dict(inputs["kwargs"])
    except Exception as exc:
        complete(rt, stub, "ERROR", None, rt.serializer.serialize_error(exc))
        return None
    try:
        return info, bound_args(rt.registry, claimed, info, args), kwargs
    except DBOSWorkflowFunctionNotFoundError as exc:  # an instance registered in another process
        rt.db.workflows.park(claimed.workflow_id, claimed.owner_token, default_queue=INTERNAL_QUEUE)
        rt.log.warning("workflow_instance_unknown_parked", workflow_id=claimed.workflow_id,
                       error=exc.message, hint="it runs in a process that registers the instance")
        return None


class Executor(ThreadService):
    name = "dbos-claimer"

    def __init__(self, rt: Runtime, capacity: int, plan: PlanFn = pool_plan) -> None:
        super().__init__()
        self.rt, self.capacity = rt, capacity
        self.budget = CpuBudget()
        self.claimer = Claimer(rt, capacity, self.budget, plan)
        self.lane = AsyncLane(rt, self.claimer, rt.settings.worker_async_concurrency, self._freed_on_loop)
        self.wake = threading.Event()
        self.parked_due = threading.Event()  # look for parked rows of our names
        self.parked_due.set()  # at start: rows parked before this process knew their names
        self.queues_due = threading.Event()  # re-read this application's queue rows
        self.queues_due.set()
        self.claim_lock = threading.Lock()  # one claim at a time (loop or listener thread)
        self.claiming = threading.Event()
        self.claiming.set()
        self.want = 1  # free slots at which a finishing workflow wakes the claim loop
        self._parked_at = self._queues_at = time.monotonic()
        rt.writers.outcomes.linger = lambda: self.budget.linger(capacity)
        rt.waiters.on_queue(self._on_queue)
        rt.waiters.on_parked(self._on_parked)
        rt.waiters.on_queue_row(self._on_queue_row)

    # 1. Claim ------------------------------------------------------------------------------
    def _on_queue(self, queue: str | None) -> None:
        """A NOTIFY (listener thread). When no claim is running, claim right here; otherwise
        wake the claim loop."""
        self.claimer.walk.woken(queue)
        if queue is not None and not self.claimer.serves(queue):
            return
        if queue is not None and self._free() > 0 and self.claim_lock.acquire(blocking=False):
            try:
                self._claim()
                return
            except Exception:  # the claim loop retries with its backoff
                pass
            finally:
                self.claim_lock.release()
        self.wake.set()

    def _on_parked(self, key: str | None) -> None:
        """`p:<name>`: rows of a name were parked by a claimer that does not know it."""
        names = self.claimer.plan.parked_names
        if key is None or any(wake_key("", n) == key for n in names):
            self.parked_due.set()
            self.wake.set()

    def _on_queue_row(self, _: str | None) -> None:
        self.queues_due.set()
        self.wake.set()

    def claim_once(self) -> int:
        """Claim and dispatch what fits now; returns how many rows were claimed."""
        with self.claim_lock:
            return self._claim()

    def _claim(self) -> int:
        if not self.claiming.is_set():
            return 0
        if self.queues_due.is_set() or time.monotonic() - self._queues_at > QUEUES_POLL_SEC:
            self.queues_due.clear()
            self._queues_at = time.monotonic()
            self.claimer.reload_queues()
        rows = self.claimer.claim() + self.lane.claim() + self.lane.claim_for_threads()
        if self.parked_due.is_set() or time.monotonic() - self._parked_at > PARKED_POLL_SEC:
            self.parked_due.clear()
            self._parked_at = self._queues_at = time.monotonic()
            rows += self.claimer.claim_parked()
        metrics.claimed(len(rows), len(self.rt.inflight))
        for row in rows:
            if not self.lane.dispatch(row):  # async workflows run on the loop thread
                self.rt.executor_threads.submit(self._execute, row)
        return len(rows)

    # 2. Run --------------------------------------------------------------------------------
    def _execute(self, claimed: ClaimedWorkflow) -> None:
        cpu = time.thread_time()
        try:
            run_claimed(self.rt, claimed, lambda failure: self._finished(claimed, failure))
        except Exception as exc:
            self.rt.log.error("workflow_execute_failed", workflow_id=claimed.workflow_id,
                              error=repr(exc)[:300])
            self.rt.inflight.release(claimed.workflow_id, claimed.owner_token)
        finally:
            self.budget.record(time.thread_time() - cpu)
            self.rt.inflight.ran(claimed.workflow_id, claimed.owner_token)
            self._freed()

    # 4. Free the slot ----------------------------------------------------------------------
    def _finished(self, claimed: ClaimedWorkflow, failure: BaseException | None) -> None:
        """The outcome is durable (the ledger released it), or its write failed: the row
        stays PENDING and the orphan sweep hands it back."""
        if failure is not None:
            self.rt.log.error("workflow_outcome_write_failed", workflow_id=claimed.workflow_id,
                              error=repr(failure)[:300])
        self._freed()

    def _freed(self) -> None:
        """Wake the claim loop only once `want` thread slots are free: each wake-up of a
        thread takes the GIL from the workflows that are running (see _gather)."""
        metrics.in_flight(len(self.rt.inflight))
        if self._thread_free() >= self.want:
            self.wake.set()

    def _freed_on_loop(self) -> None:
        """An async workflow's outcome is durable: wake the claim loop only while the loop has
        a backlog to take and room for a batch of it (new work arrives by NOTIFY)."""
        metrics.in_flight(len(self.rt.inflight))
        if self.lane.wants_claim():
            self.wake.set()

    def _thread_free(self) -> int:
        """Thread slots free (the loop's room is the async lane's business): what the claim
        loop gathers for. Counting the loop's 10,000 slots here made every finished sync
        workflow wake a one-row claim in any process with an async workflow registered."""
        held, executing = self.rt.inflight.counts()
        return max(0, min(self.capacity - held, self.claimer.limit() - executing))

    def _free(self) -> int:
        """Free slots of either lane (threads, loop)."""
        return max(self._thread_free(), self.lane.free())

    # The claim loop ------------------------------------------------------------------------
    def _run(self) -> None:
        poll = self.rt.settings.polling_interval_sec
        backoff: Backoff | None = None
        last_sweep = time.monotonic()
        while not self._stop.is_set():
            self.wake.clear()
            try:
                if self._free() > 0:
                    self.claim_once()
                if time.monotonic() - last_sweep > SWEEP_SEC:
                    self.sweep_orphans()
                    last_sweep = time.monotonic()
                backoff = None
            except DatabaseUnavailableError as exc:
                backoff = backoff or Backoff(first=0.1, cap=2.0, total=float("inf"))
                self.rt.log.warning("claim_failed", error=str(exc)[:200])
                backoff.wait()
                continue
            if self.lane.backlogged and self.lane.free() > 0:
                continue  # the loop took a full batch and has room: take the next one now
            if self._thread_free() > 0:
                # Drained (the claim found fewer rows than the thread slots it had): sleep
                # until a NOTIFY, the poll, or a finishing workflow (want is 1
                # outside _gather). Producers coalesce their NOTIFYs to one per 10 ms under
                # load; claiming again when a workflow finishes starts what was enqueued in
                # between. Without it, steady-state enqueue->start p50 went from 4 to 9 ms.
                self.wake.wait(poll)
            else:
                self._gather()

    def _gather(self) -> None:
        """A backlog: wait until a quarter of the slots are free, so the next claim is a batch
        and not one row per finished workflow (each claim is a commit), but claim what is free
        `window` after the first slot freed up. Finishing workflows wake this thread only at
        those two points (`want`), not once each: every wake-up takes the GIL from the
        workflows that run."""
        threshold = max(1, self.claimer.limit() // 4)
        window = self.budget.gather_sec(GATHER_SEC)
        deadline: float | None = None  # set once a slot is free
        try:
            while not self._stop.is_set():
                self.want = 1 if deadline is None else threshold
                self.wake.clear()
                free, now = self._thread_free(), time.monotonic()
                if free >= threshold or (deadline is not None and free > 0 and now >= deadline):
                    return
                if (free == 0) != (deadline is None):  # the wake-up point changes: re-arm
                    deadline = None if free == 0 else now + window
                    continue
                self.wake.wait(1.0 if deadline is None else deadline - now)
        finally:
            self.want = 1

    def _wake(self) -> None:
        self.claiming.clear()
        self.wake.set()

    def _stopped(self) -> None:
        with self.claim_lock:  # a claim under way (listener thread) dispatches first
            pass

    # Orphans and hand-back -----------------------------------------------------------------
    def sweep_orphans(self) -> None:
        """Rows claimed by this instance whose claim reply was lost (connection drop). Under
        the claim lock: a claim between its commit and its rows entering the ledger looked
        orphaned, and the sweep handed back a workflow this process had just started (the
        randomized fault schedule, seed 7: one step run twice in one process, 6 ms apart).
        Rows started here enter the ledger before their insert commits (workflow.start)."""
        rt = self.rt
        with self.claim_lock:
            held = rt.db.workflows.held_by(rt.executor_id, rt.instance_id)
            orphans = [w for w in held if w not in rt.inflight]
            if orphans:
                rt.db.workflows.requeue(orphans, refund=True, default_queue=INTERNAL_QUEUE,
                                        owner_instance=rt.instance_id)
        if orphans:
            rt.log.warning("orphans_requeued", workflows=len(orphans))
            metrics.handed_back("orphan", len(orphans))

    def hand_back(self) -> int:
        """What is still in flight goes back to its queue without burning an attempt."""
        left = sorted(self.rt.inflight.ids())
        if left:
            self.rt.db.workflows.requeue(left, refund=True, default_queue=INTERNAL_QUEUE,
                                         owner_instance=self.rt.instance_id)
            self.rt.log.info("workflows_handed_back", workflows=len(left))
            metrics.handed_back("drain", len(left))
        return len(left)

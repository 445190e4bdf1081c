"""Dead-holder recovery: PENDING work whose holder is known dead goes back to a queue (a
respawned worker slot) or is taken over and resumed here (the app process's own inline work).

Never take work from a live process: a holder is dead when it recorded a clean stop, or it
ran on this host and its pid is gone (or reused), or its lease (heartbeat) expired on the
database's clock. Work on other hosts whose lease expired is the leader's (maintenance).
"""

from __future__ import annotations

from .. import metrics
from ..db.records import Hold
from ..proc import pid_alive
from ..registry import INTERNAL_QUEUE
from ..runtime import Runtime
from .executor import run_claimed


def holder_dead(rt: Runtime, hold: Hold) -> bool:
    """Known dead: stopped cleanly, gone from this host, or silent for a lease."""
    if hold.owner_instance == rt.instance_id:
        return False
    if hold.host is None or hold.stopped_at is not None:
        return True
    if hold.host == rt.host and hold.pid is not None and not pid_alive(
            hold.pid, hold.proc_start_ticks, hold.boot_id):
        return True
    return hold.silent_ms is not None and hold.silent_ms > rt.settings.executor_lease_sec * 1000


def dead_holds(rt: Runtime, executor_id: str) -> list[Hold]:
    """This executor id's PENDING rows whose holder is dead (and that do not run here)."""
    running = rt.inflight.ids()
    return [h for h in rt.db.workflows.holds(executor_id)
            if h.workflow_id not in running and holder_dead(rt, h)]


def recover_slot(rt: Runtime) -> int:
    """A worker replacing a dead one: its predecessor's PENDING rows go back to their queues
    (an attempt is counted) before this worker claims anything."""
    holds = dead_holds(rt, rt.executor_id)
    if not holds:
        return 0
    moved = rt.db.workflows.requeue([h.workflow_id for h in holds], refund=False, default_queue=INTERNAL_QUEUE,
                                    owner_tokens=[h.owner_token for h in holds])
    if moved:  # rows the leader handed on meanwhile stay with their new holder
        rt.log.info("slot_recovered", workflows=moved)
        metrics.recovered("slot", moved)
    return moved


def recover_own(rt: Runtime) -> list[str]:
    """The app process at launch: take over its executor id's PENDING work whose holder died
    and resume each in this process's executor threads."""
    recovered = []
    for hold in dead_holds(rt, rt.executor_id):
        claimed = rt.db.workflows.take_over(hold, executor_id=rt.executor_id,
                                            owner_instance=rt.instance_id)
        if claimed is None:
            continue
        metrics.recovered("own", 1)
        rt.log.info("workflow_recovered", workflow_id=claimed.workflow_id,
                    attempts=claimed.recovery_attempts)
        rt.inflight.claimed(claimed.workflow_id, claimed.queue_name, token=claimed.owner_token)
        rt.executor_threads.submit(run_claimed, rt, claimed)
        recovered.append(claimed.workflow_id)
    return recovered

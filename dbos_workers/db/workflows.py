"""workflow_status: insert, claim, take over, complete, requeue, cancel, resume, read, list."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

from .locks import advisory_key
from .records import (
    ClaimedWorkflow,
    Completion,
    Hold,
    Inserted,
    NewWorkflow,
    Outcome,
    Ownership,
    QueueSettings,
    WorkflowRecord,
)
from .repository import RollbackSignal, Tx
from .store import Store, columns

# A claim over more queues than this walks them in the order given, up to k = n / (number of
# queues) rows from each, and stops at n (see workflow_claim_batch); over the app queue plus
# the internal one it keeps the oldest n across them.
SPREAD_QUEUES = 2
_NEW_FIELDS = tuple(f.name for f in dataclasses.fields(NewWorkflow))
_ENQUEUE = {"workflow_ids": "workflow_id", "statuses": "status", "names": "name",
            "class_names": "class_name", "config_names": "config_name", "inputs": "inputs",
            "serializations": "serialization", "queue_names": "queue_name", "priorities": "priority",
            "deduplication_ids": "deduplication_id", "application_versions": "application_version",
            "application_names": "application_name", "max_recovery_attempts": "max_recovery_attempts",
            "timeout_ms": "timeout_ms", "delay_until_ms": "delay_until_ms",
            "parent_workflow_ids": "parent_workflow_id", "queue_partition_keys": "queue_partition_key",
            "is_debounced": "is_debounced", "debounce_deadlines_ms": "debounce_deadline_ms",
            "authenticated_users": "authenticated_user", "authenticated_roles": "authenticated_roles",
            "assumed_roles": "assumed_role", "attributes": "attributes",
            "trace_contexts": "trace_context"}
_COMPLETION = {"workflow_ids": "workflow_id", "owner_tokens": "owner_token", "statuses": "status",
               "outputs": "output", "errors": "error"}


class WorkflowStore(Store):
    def insert(self, new: NewWorkflow, *, notify: bool) -> Inserted | None:
        """Insert (idempotent on the id); the row as it stands, None when a concurrent insert
        committed after this statement's snapshot (read it with `outcome`). With notify, a
        new ENQUEUED row wakes its queue's workers in the same statement."""
        params = {f: getattr(new, f) for f in _NEW_FIELDS}
        row = self.repo.one("workflow_insert", **params, now_ms=self.now_ms(), channel=self.channel,
                            notify=notify)
        if row is None:
            return None
        return Inserted(row["inserted"], row["status"], row["name"], row["output"], row["error"],
                        row["class_name"], row["config_name"])

    def deduplicated_holder(self, queue_name: str, deduplication_id: str) -> str | None:
        """The workflow holding this deduplication id on the queue (None: released since)."""
        row = self.repo.one("workflow_deduplicated_holder", queue_name=queue_name,
                            deduplication_id=deduplication_id)
        return None if row is None else str(row["workflow_uuid"])

    def park(self, workflow_id: str, owner_token: str, *, default_queue: str) -> None:
        """A claimed row this process cannot run goes back, parked, for a process that can."""
        self.repo.all("workflow_park", workflow_id=workflow_id, owner_token=owner_token,
                      default_queue=default_queue, now_ms=self.now_ms(), channel=self.channel)

    def enqueue(self, batch: Sequence[tuple[NewWorkflow, bool]]) -> list[Inserted | None]:
        """Insert queued rows (ENQUEUED or DELAYED) in one statement; per item (row, notify)
        the row as it stands, or None when nothing with that id is visible (a deduplication
        conflict, or an insert that committed after this statement's snapshot)."""
        rows = self.repo.all("workflow_enqueue_batch", **columns([n for n, _ in batch], _ENQUEUE),
                             notifies=[notify for _, notify in batch], now_ms=self.now_ms(),
                             channel=self.channel)
        out: list[Inserted | None] = []
        for r in rows:
            out.append(None if r["status"] is None else
                       Inserted(r["inserted"], r["status"], r["name"], r["output"], r["error"]))
        return out

    def enqueue_atomic(self, rows: Sequence[NewWorkflow], chunk: int) -> list[int]:
        """Insert all rows (in statements of `chunk`) in one transaction, or none of them:
        returns the indexes of rows refused by a deduplication conflict (then nothing is
        written). An id that exists already is not a conflict (enqueue is idempotent)."""
        notify = [(r, True) for r in rows]

        def insert_all(tx: Tx) -> list[int]:
            refused: list[int] = []
            for start in range(0, len(notify), chunk):
                part = notify[start:start + chunk]
                found = tx.all("workflow_enqueue_batch", **columns([n for n, _ in part], _ENQUEUE),
                               notifies=[True] * len(part), now_ms=self.now_ms(), channel=self.channel)
                refused += [start + i for i, r in enumerate(found) if r["status"] is None]
            if refused:
                raise RollbackSignal(refused)
            return refused

        result: list[int] = self.repo.call(insert_all, transaction=True)
        return result

    def outcome(self, workflow_id: str) -> Outcome | None:
        row = self.repo.one("workflow_get_outcome", workflow_id=workflow_id)
        return None if row is None else Outcome(row["status"], row["output"], row["error"])

    def first_finished(self, workflow_ids: list[str]) -> str | None:
        """Of these workflows, the one that finished first (None: all still active)."""
        row = self.repo.one("workflow_first_finished", workflow_ids=workflow_ids)
        return None if row is None else str(row["workflow_uuid"])

    def get(self, workflow_id: str) -> WorkflowRecord | None:
        row = self.repo.one("workflow_get", workflow_id=workflow_id)
        return None if row is None else WorkflowRecord.of(row)

    # Claiming ------------------------------------------------------------------------------
    def _claim_params(self, executor_id: str, owner_instance: str, token: str) -> dict[str, object]:
        return {"executor_id": executor_id, "owner_token": token, "owner_instance": owner_instance,
                "now_ms": self.now_ms()}

    def claim(self, queues: list[str], n: int, *, names: list[str], executor_id: str,
              owner_instance: str) -> tuple[list[ClaimedWorkflow], list[str]]:
        """Claim up to n runnable rows of unlimited queues, in one committed statement (over
        many queues: walking them in the order given, round robin). Rows at the head whose
        name is not in `names` are parked (they wait for a process that knows them); returns
        (claimed, names parked)."""
        token = uuid.uuid4().hex
        spread = len(queues) > SPREAD_QUEUES
        rows = self.repo.all("workflow_claim_batch", queues=queues, n=n, names=names, retry=False,
                             spread=spread, k=-(-n // min(len(queues), n)) if spread else n,
                             channel=self.channel, **self._claim_params(executor_id, owner_instance, token))
        claimed = [ClaimedWorkflow.of(r, token) for r in rows if not r["parked"]]
        return claimed, sorted({r["name"] for r in rows if r["parked"]})

    def claim_named(self, queues: list[str], n: int, *, names: list[str], executor_id: str,
                    owner_instance: str, include: bool = True) -> list[ClaimedWorkflow]:
        """Claim up to n runnable rows of these names (include=False: of any other name) on
        unlimited queues; the others are left where they are, not parked (aio/lane.py)."""
        token = uuid.uuid4().hex
        rows = self.repo.all("workflow_claim_named", queues=queues, n=n, names=names, retry=False,
                             include=include,
                             **self._claim_params(executor_id, owner_instance, token))
        return [ClaimedWorkflow.of(r, token) for r in rows]

    def claim_parked(self, names: list[str], queues: list[str], n: int, *, executor_id: str,
                     owner_instance: str, instances: Sequence[str] = ()) -> list[ClaimedWorkflow]:
        """Claim parked rows of the given names on the given queues (rows of class instances:
        only of the given "<class>/<config>" instances)."""
        token = uuid.uuid4().hex
        rows = self.repo.all("workflow_claim_parked", names=names, queues=queues, n=n, retry=False,
                             instances=list(instances),
                             **self._claim_params(executor_id, owner_instance, token))
        return [ClaimedWorkflow.of(r, token) for r in rows]

    def claim_limited(self, queue: str, n: int, *, names: list[str], concurrency: int | None,
                      rate_limit: int | None, rate_period_sec: float | None, schema: str,
                      executor_id: str, owner_instance: str,
                      instances: Sequence[str] = ()) -> list[ClaimedWorkflow]:
        """Claim from a queue with a global concurrency and/or rate limit: under the queue's
        transaction advisory lock, so every claimer on every host counts the same rows."""
        token = uuid.uuid4().hex
        key = advisory_key("queue", schema, queue)

        def limited(tx: Tx) -> list[dict[str, Any]]:
            tx.one("queue_claim_lock", key=key)
            return tx.all("workflow_claim_limited", queue=queue, n=n, names=names, instances=list(instances),
                          concurrency=concurrency,
                          rate_limit=rate_limit, rate_period_ms=int((rate_period_sec or 0) * 1000),
                          rate_limited=rate_limit is not None,
                          **self._claim_params(executor_id, owner_instance, token))

        rows = self.repo.call(limited, transaction=True, retry=False)
        return [ClaimedWorkflow.of(r, token) for r in rows]

    def claim_partitioned(self, q: QueueSettings, n: int, *, names: list[str], held: dict[str, int],
                          schema: str, executor_id: str, owner_instance: str) -> list[ClaimedWorkflow]:
        """Claim from a partitioned queue (limits per partition key), under the queue's lock."""
        token = uuid.uuid4().hex
        key = advisory_key("queue", schema, q.name)
        params = dict(queue=q.name, n=n, names=names, concurrency=q.concurrency,
                      rate_limit=q.rate_limit_max, rate_period_ms=int((q.rate_limit_period_sec or 0) * 1000),
                      partition_concurrency=q.partition_concurrency,
                      partition_worker_concurrency=q.partition_worker_concurrency,
                      partition_rate_limit=q.partition_rate_limit_max,
                      partition_rate_period_ms=int((q.partition_rate_limit_period_sec or 0) * 1000),
                      rate_limited=q.rate_limit_max is not None or q.partition_rate_limit_max is not None,
                      held_keys=list(held), held_counts=list(held.values()),
                      **self._claim_params(executor_id, owner_instance, token))

        def partitioned(tx: Tx) -> list[dict[str, Any]]:
            tx.one("queue_claim_lock", key=key)
            return tx.all("workflow_claim_partitioned", **params)

        rows = self.repo.call(partitioned, transaction=True, retry=False)
        return [ClaimedWorkflow.of(r, token) for r in rows]

    def take_over(self, hold: Hold, *, executor_id: str, owner_instance: str) -> ClaimedWorkflow | None:
        """Own a PENDING workflow whose holder is known dead (its token unchanged since)."""
        token = uuid.uuid4().hex
        row = self.repo.one("workflow_takeover", workflow_id=hold.workflow_id,
                            previous_token=hold.owner_token, owner_token=token,
                            owner_instance=owner_instance, executor_id=executor_id,
                            now_ms=self.now_ms())
        return None if row is None else ClaimedWorkflow.of(row, token)

    def holds(self, executor_id: str) -> list[Hold]:
        """PENDING rows of an executor id, with their holders' liveness."""
        return [Hold.of(r) for r in self.repo.all("workflow_pending_of_executor", executor_id=executor_id)]

    def held_by(self, executor_id: str, instance_id: str) -> list[str]:
        rows = self.repo.all("workflow_pending_of_instance", executor_id=executor_id,
                             instance_id=instance_id)
        return [r["workflow_uuid"] for r in rows]

    # Outcomes ------------------------------------------------------------------------------
    def complete(self, batch: Sequence[Completion]) -> None:
        """Outcomes of several workflows in one statement (group commit), each with its
        deferred last step; wakes get_result waiters."""
        steps = [c.step for c in batch]
        self.repo.all("workflow_complete_batch", **columns(batch, _COMPLETION),
                      step_ids=[s.function_id if s else None for s in steps],
                      step_names=[s.function_name if s else None for s in steps],
                      step_outputs=[s.output if s else None for s in steps],
                      step_errors=[s.error if s else None for s in steps],
                      step_started=[s.started_at_ms if s else None for s in steps],
                      now_ms=self.now_ms(), channel=self.channel)

    def requeue(self, workflow_ids: list[str], *, refund: bool, default_queue: str,
                owner_tokens: list[str | None] | None = None, owner_instance: str | None = None) -> int:
        """Hand PENDING rows back to their queues (drain, a dead holder's work); a drain
        refunds the attempt. Only rows still held by the given owner tokens (per row) and
        owner instance: never one another process claimed meanwhile. Returns how many moved."""
        tokens = owner_tokens if owner_tokens is not None else [None] * len(workflow_ids)
        rows = self.repo.all("workflow_requeue", workflow_ids=workflow_ids, owner_tokens=tokens,
                             owner_instance=owner_instance, refund=int(refund),
                             default_queue=default_queue, now_ms=self.now_ms(), channel=self.channel)
        return sum(int(r["moved"]) for r in rows)

    def dead_letter(self, workflow_id: str, owner_token: str) -> None:
        self.repo.all("workflow_dead_letter", workflow_id=workflow_id, owner_token=owner_token,
                      now_ms=self.now_ms(), channel=self.channel)

    def cancel(self, workflow_ids: Sequence[str]) -> None:
        self.repo.all("workflow_cancel", workflow_ids=list(workflow_ids), now_ms=self.now_ms(),
                      channel=self.channel)

    def resume(self, workflow_ids: Sequence[str], *, queue_name: str | None, default_queue: str) -> None:
        self.repo.all("workflow_resume", workflow_ids=list(workflow_ids), queue_name=queue_name,
                      default_queue=default_queue, now_ms=self.now_ms(), channel=self.channel)

    def owner(self, workflow_id: str) -> Ownership | None:
        """The row's status and owner token as committed now (None: no such workflow)."""
        row = self.repo.one("workflow_owner", workflow_id=workflow_id)
        return None if row is None else Ownership(row["status"], row["owner_token"], False)

    def existing(self, workflow_ids: Sequence[str]) -> set[str]:
        rows = self.repo.all("workflow_existing", workflow_ids=list(workflow_ids))
        return {r["workflow_uuid"] for r in rows}

    def children(self, workflow_ids: Sequence[str]) -> list[str]:
        rows = self.repo.all("workflow_children", workflow_ids=list(workflow_ids))
        return [r["workflow_uuid"] for r in rows]

    def delete(self, workflow_ids: Sequence[str]) -> int:
        return len(self.repo.all("workflow_delete", workflow_ids=list(workflow_ids)))

    def set_delay(self, workflow_id: str, delay_until_ms: int) -> bool:
        return bool(self.repo.all("workflow_set_delay", workflow_id=workflow_id,
                                  delay_until_ms=delay_until_ms, now_ms=self.now_ms()))

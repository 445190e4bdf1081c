"""The in-flight ledger: every workflow this process runs, from the moment it is claimed (or
started here) until its outcome is durable or it is handed back. One ledger per process: the
claimer counts its slots from it, cancellations find their workflow in it, a drain waits on it
and hands back what is left in it, and recovery never takes what it lists."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .context import WorkflowContext


@dataclass(slots=True)
class Entry:
    workflow_id: str
    queue: str | None
    partition: str | None = None
    ctx: WorkflowContext | None = None
    executing: bool = True  # False once its thread is done with it (outcome may be in flight)
    on_loop: bool = False  # an async workflow: counted apart from the thread slots (aio/)
    token: str | None = None  # the owner token of the execution the entry is for


class InFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._entries: dict[str, Entry] = {}
        self._executing = 0
        self._on_loop = [0, 0]  # async entries: (held, executing), left out of counts()
        self._by_queue: dict[str, int] = {}
        self._by_partition: dict[tuple[str, str], int] = {}

    # Changes -------------------------------------------------------------------------------
    def claimed(self, workflow_id: str, queue: str | None, partition: str | None = None,
                on_loop: bool = False, token: str | None = None) -> None:
        """A claimed (or recovered, or about to be inserted here) row, before its thread (or
        the loop) starts it. An entry of an earlier execution of the same workflow (its lease
        lapsed and the row was taken back and claimed again here) gives way: the stale
        execution stops at its next checkpoint, and its own release must not free this one."""
        with self._lock:
            self._add(Entry(workflow_id, queue, partition, on_loop=on_loop, token=token))

    def reserve(self, workflow_id: str, token: str, on_loop: bool = False) -> bool:
        """Before inserting a row that will run here: from its commit on, the orphan sweep
        (rows held by this instance that the ledger does not list) must not hand it back.
        True when this made the entry (the caller releases it if the row is not its own);
        False when the ledger lists the workflow already."""
        with self._lock:
            if workflow_id in self._entries:
                return False
            self._add(Entry(workflow_id, None, None, on_loop=on_loop, token=token))
            return True

    def attach(self, ctx: WorkflowContext, on_loop: bool = False) -> None:
        """Its body starts running under ctx (an inline start makes the entry here)."""
        with self._lock:
            entry = self._entries.get(ctx.workflow_id)
            if entry is None or entry.token not in (None, ctx.owner_token):
                self._add(Entry(ctx.workflow_id, ctx.queue_name, None, ctx, on_loop=on_loop,
                                token=ctx.owner_token))
            else:
                entry.ctx = ctx

    def ran(self, workflow_id: str, token: str | None = None) -> None:
        """Its thread is done with it; the outcome may still be on its way."""
        with self._lock:
            entry = self._mine(workflow_id, token)
            if entry is not None and entry.executing:
                entry.executing = False
                self._executing -= 1
                self._on_loop[1] -= entry.on_loop

    def release(self, workflow_id: str, token: str | None = None) -> Entry | None:
        """Its outcome is durable (or it was handed back): its slot is free. With token, only
        the entry of that execution (a stale one finds a newer claim's entry and leaves it)."""
        with self._lock:
            entry = self._mine(workflow_id, token)
            if entry is not None:
                self._remove(entry)
                self._idle.notify_all()
            return entry

    def _mine(self, workflow_id: str, token: str | None) -> Entry | None:
        entry = self._entries.get(workflow_id)
        if entry is None or (token is not None and entry.token not in (None, token)):
            return None
        return entry

    def _add(self, entry: Entry) -> None:
        old = self._entries.get(entry.workflow_id)
        if old is not None:
            self._remove(old)
        self._entries[entry.workflow_id] = entry
        self._executing += 1
        self._on_loop[0] += entry.on_loop
        self._on_loop[1] += entry.on_loop
        if entry.queue is not None:
            self._by_queue[entry.queue] = self._by_queue.get(entry.queue, 0) + 1
            if entry.partition is not None:
                key = (entry.queue, entry.partition)
                self._by_partition[key] = self._by_partition.get(key, 0) + 1

    def _remove(self, entry: Entry) -> None:
        del self._entries[entry.workflow_id]
        if entry.executing:
            self._executing -= 1
            self._on_loop[1] -= entry.on_loop
        self._on_loop[0] -= entry.on_loop
        if entry.queue is not None:
            self._by_queue[entry.queue] -= 1
            if entry.partition is not None:
                self._by_partition[(entry.queue, entry.partition)] -= 1

    # Reads ---------------------------------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        """(held, executing) on threads: held = claimed and outcome not yet durable."""
        with self._lock:
            return len(self._entries) - self._on_loop[0], self._executing - self._on_loop[1]

    def on_loop(self) -> int:
        """Async workflows held (claimed or started here, outcome not yet durable)."""
        with self._lock:
            return self._on_loop[0]

    def held_in(self, queue: str) -> int:
        with self._lock:
            return self._by_queue.get(queue, 0)

    def held_by_partition(self, queue: str) -> dict[str, int]:
        """{partition key: held} for a partitioned queue (partition_worker_concurrency)."""
        with self._lock:
            return {k: n for (q, k), n in self._by_partition.items() if q == queue and n > 0}

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._entries)

    def __contains__(self, workflow_id: object) -> bool:
        with self._lock:
            return workflow_id in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def context(self, workflow_id: str) -> WorkflowContext | None:
        with self._lock:
            entry = self._entries.get(workflow_id)
            return entry.ctx if entry else None

    def contexts(self) -> list[WorkflowContext]:
        with self._lock:
            return [e.ctx for e in self._entries.values() if e.ctx is not None]

    def wait_idle(self, timeout: float) -> bool:
        """Until nothing is in flight, or timeout seconds; True when idle."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._entries, max(0.0, timeout))

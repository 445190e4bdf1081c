"""The order in which a claim walks its unlimited queues, and which it may leave out.

Round robin: with many queues, a claim walks them in order from just after the last queue the
previous claim took from, up to k rows from each, and stops at n rows (workflow_claim_batch
with `spread`), so each claim costs about n / k probes however many queues there are, and
every queue with work gets its turn.

Queues found empty are left out. Work only reaches an unlimited queue with a NOTIFY on it (an
enqueue, a requeue, a delayed row coming due, a resume), so a queue that a claim walked and
took nothing from, when that claim got fewer rows than it asked for, stays out of later
claims until a `q:` for it arrives: one busy queue beside 100 empty ones claimed 17 % slower
than alone when each claim probed all of them. Wake-ups can be lost (a listener reconnect
says so and clears everything; a NOTIFY sent before its rows were visible does not): every
`full_every_sec` (the polling interval, the backstop that already covers lost wake-ups) a
claim walks every queue again. A wake-up that arrives while a claim is under way may be for
rows that claim did not see, so only queues last woken before the claim began are marked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable


class QueueWalk:
    def __init__(self, full_every_sec: float) -> None:
        self.full_every_sec = full_every_sec
        self._lock = threading.Lock()
        self._empty: set[str] = set()
        self._woken: dict[str, int] = {}  # queue: sequence number of its last wake-up
        self._seq = 0
        self._full_at = -1e18
        self._start = 0  # index (in the full list) the next walk starts at

    def woken(self, queue: str | None) -> None:
        """A `q:` NOTIFY for queue (listener thread); None: after a reconnect, anything."""
        with self._lock:
            self._seq += 1
            if queue is None:
                self._empty.clear()
                self._full_at = -1e18
            else:
                self._empty.discard(queue)
                self._woken[queue] = self._seq

    def begin(self, queues: list[str]) -> tuple[list[str], int]:
        """The queues to walk now, in order, and the mark that `found` needs."""
        with self._lock:
            now = time.monotonic()
            if now - self._full_at >= self.full_every_sec:
                self._empty.clear()
                self._full_at = now
            start = self._start % len(queues) if queues else 0
            order = queues[start:] + queues[:start] if start else queues
            if self._empty:
                order = [q for q in order if q not in self._empty]
            return order, self._seq

    def found(self, queues: list[str], walked: list[str], took_from: Iterable[str | None],
              drained: bool, mark: int) -> None:
        """After a claim that walked `walked` (from the full list `queues`) and took rows from
        `took_from`: the next walk starts after the last queue it took from; when it got fewer
        rows than it asked for (drained), the walked queues it took none from are empty."""
        busy = set(took_from)
        if not busy and not drained:
            return
        with self._lock:
            if busy:
                last = max(i for i, q in enumerate(walked) if q in busy)
                self._start = queues.index(walked[last]) + 1
            if drained:
                for queue in walked:
                    if queue not in busy and self._woken.get(queue, 0) <= mark:
                        self._empty.add(queue)

    def empty_count(self) -> int:
        return len(self._empty)

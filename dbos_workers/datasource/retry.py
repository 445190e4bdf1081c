"""The retry backoff of transactions, as DBOS's: 1 ms, then x1.5 per try, at most 2 s apart.
Serialization conflicts are retried without end (each conflict means another transaction
committed: progress); a lost database for up to a budget."""

from __future__ import annotations

import time
from collections.abc import Callable

FIRST_SEC = 0.001
FACTOR = 1.5
CAP_SEC = 2.0


class TxBackoff:
    def __init__(self, budget_sec: float = 60.0, sleep: Callable[[float], object] = time.sleep) -> None:
        self.delay = FIRST_SEC
        self.deadline = time.monotonic() + budget_sec
        self.tries = 0
        self._sleep = sleep  # e.g. a workflow's cancel flag's wait: a cancel cuts it short

    def next(self, conflict: bool) -> float | None:
        """The delay before the next try; None when an outage outlasted the budget."""
        if not conflict and time.monotonic() + self.delay > self.deadline:
            return None
        delay, self.tries = self.delay, self.tries + 1
        self.delay = min(CAP_SEC, self.delay * FACTOR)
        return delay

    def wait(self, conflict: bool) -> bool:
        """Sleep before the next try; False (no sleep) when the budget is spent."""
        delay = self.next(conflict)
        if delay is None:
            return False
        self._sleep(delay)
        return True

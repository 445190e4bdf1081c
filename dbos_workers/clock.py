"""Time, injectable for tests, and aligned with the database's clock.

Hosts' wall clocks disagree (NTP drift, a VM resumed, a misconfigured host). Every lease and
liveness decision is made in SQL on the database's clock (db_now_ms(), migration 7). The other
timestamps a process writes (created_at orders a queue, deadlines, delays, cron ticks) use
`Clock.now_ms()`, which adds this process's measured offset to the database's clock, so a host
30 s fast neither jumps the queue nor fires cron ticks 30 s early.
"""

from __future__ import annotations

import time


class Clock:
    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK = Clock()


class DatabaseClock(Clock):
    """The local wall clock plus an offset estimated from the database's clock, NTP-style:
    a sample is (local time sent, database time, local time received); the offset assumes the
    database read its clock half-way. Samples with a round trip much longer than the best one
    seen are ignored (a stalled query tells little about the offset)."""

    def __init__(self, base: Clock = SYSTEM_CLOCK) -> None:
        self.base = base
        self.offset_ms = 0
        self.best_rtt_ms: float | None = None

    def now_ms(self) -> int:
        return self.base.now_ms() + self.offset_ms

    def monotonic(self) -> float:
        return self.base.monotonic()

    def local_ms(self) -> int:
        """The uncorrected local clock (take it before and after a query for `sample`)."""
        return self.base.now_ms()

    def sample(self, sent_ms: int, db_ms: int, received_ms: int) -> None:
        rtt = max(0, received_ms - sent_ms)
        if self.best_rtt_ms is not None and rtt > max(20.0, 4 * self.best_rtt_ms):
            return
        self.best_rtt_ms = rtt if self.best_rtt_ms is None else min(self.best_rtt_ms, rtt)
        self.offset_ms = int(db_ms - (sent_ms + received_ms) / 2)

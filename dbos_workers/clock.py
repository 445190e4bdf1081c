"""Time, injectable for tests, and aligned with the database's clock.

Hosts' wall clocks disagree (NTP drift, a VM resumed, a misconfigured host). Every lease and
liveness decision is made in SQL on the database's clock (db_now_ms(), migration 7). The other
timestamps a process writes (created_at orders a queue, deadlines, delays, cron ticks) use
`Clock.now_ms()`, which adds this process's measured offset to the database's clock, so a host
30 s fast neither jumps the queue nor fires cron ticks 30 s early.
"""

from __future__ import annotations

import threading
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
    seen are ignored (a stalled query tells little about the offset); small corrections are
    smoothed, a jump of more than STEP_MS (the host's clock was stepped) is taken at once.
    `now_ms` does not go back by a small correction within a process: a stamp taken after
    another one is not earlier (started_at after the completed_at it waited for); only a
    step of the host's clock beyond STEP_MS shows."""

    STEP_MS = 1000

    def __init__(self, base: Clock = SYSTEM_CLOCK) -> None:
        self.base = base
        self.offset_ms = 0
        self.best_rtt_ms: float | None = None
        self._estimate: float | None = None
        self._last = 0
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        now = self.base.now_ms() + self.offset_ms
        with self._lock:
            if self._last - self.STEP_MS <= now < self._last:
                return self._last  # a smoothed correction: hold instead of stepping back
            self._last = now
            return now

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
        measured = db_ms - (sent_ms + received_ms) / 2
        if self._estimate is None or abs(measured - self._estimate) > self.STEP_MS:
            self._estimate = measured
        else:
            self._estimate += 0.25 * (measured - self._estimate)
        self.offset_ms = round(self._estimate)

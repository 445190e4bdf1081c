"""The database-aligned clock and the clock-free pid identity check."""

from __future__ import annotations

import os
import subprocess
import sys

from dbos_workers.clock import Clock, DatabaseClock
from dbos_workers.proc import pid_alive, process_identity


class FixedClock(Clock):
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def now_ms(self) -> int:
        return self.ms


def test_offset_is_estimated_from_the_round_trip_midpoint() -> None:
    clock = DatabaseClock(FixedClock(1_000_000))
    clock.sample(sent_ms=1_000_000, db_ms=1_030_005, received_ms=1_000_010)  # host 30 s slow
    assert clock.offset_ms == 30_000
    assert clock.now_ms() == 1_030_000


def test_a_sample_with_a_stalled_round_trip_is_ignored() -> None:
    clock = DatabaseClock(FixedClock(0))
    clock.sample(0, 505, 10)
    clock.sample(0, 9_000, 2_000)  # 2 s round trip: tells little
    assert clock.offset_ms == 500
    clock.sample(0, 760, 20)  # a little slower than the best: taken, smoothed (a quarter)
    assert clock.offset_ms == 562


def test_a_stepped_host_clock_is_followed_at_once_and_stamps_never_go_back() -> None:
    base = FixedClock(1_000_000)
    clock = DatabaseClock(base)
    clock.sample(1_000_000, 1_000_005, 1_000_010)
    assert clock.offset_ms == 0
    clock.sample(1_000_000, 1_000_009, 1_000_010)  # 4 ms later: smoothed to +1 ms
    first = clock.now_ms()
    clock.sample(1_000_000, 1_000_001, 1_000_010)  # a correction back: held, not earlier
    assert clock.now_ms() >= first
    clock.sample(1_000_000, 970_005, 1_000_010)  # the host's clock was stepped 30 s ahead
    assert clock.offset_ms == -30_000 and clock.now_ms() == 970_000


def test_pid_identity_tells_a_live_process_from_a_gone_or_reused_one() -> None:
    ticks, boot = process_identity(os.getpid())
    assert ticks is not None and boot
    assert pid_alive(os.getpid(), ticks, boot)
    assert not pid_alive(os.getpid(), ticks + 1, boot)  # a later start under the same pid
    assert not pid_alive(os.getpid(), ticks, "another-boot")
    assert pid_alive(os.getpid(), None, None)  # unknown identity counts as alive
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child_ticks, _ = process_identity(child.pid)
    child.wait()
    assert not pid_alive(child.pid, child_ticks, boot)

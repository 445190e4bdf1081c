"""Shared memory between the app process, the supervisor and its workers.

Three preallocated blocks, created before the supervisor is forked so every process maps them:
``beats[slot]`` is the ``time.monotonic()`` of the slot's last heartbeat (0 = none since spawn),
``pids[slot]`` is the pid of the slot's live worker (0 = empty slot), ``drain_timeout`` is
the timeout passed to ``SupervisorHandle.drain`` and ``supervisor_beat`` the time of the
supervisor loop's last round. ``time.monotonic`` is ``CLOCK_MONOTONIC``,
which is system-wide on Linux, so beats written by a worker compare with the supervisor's clock.
Each cell is written by one process at a time and read by others; aligned 8-byte and 4-byte
stores need no lock.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, cast

from .constants import MAX_SLOTS


@dataclass(frozen=True)
class SharedState:
    """Heartbeats, worker pids and the drain timeout, in shared memory."""

    beats: ctypes.Array[ctypes.c_double]
    pids: ctypes.Array[ctypes.c_int]
    drain_timeout: ctypes.c_double
    supervisor_beat: ctypes.c_double

    @classmethod
    def create(cls, ctx: Any) -> SharedState:
        """Allocate the blocks from a ``multiprocess`` context (call before forking)."""
        return cls(
            beats=cast("ctypes.Array[ctypes.c_double]", ctx.Array("d", MAX_SLOTS, lock=False)),
            pids=cast("ctypes.Array[ctypes.c_int]", ctx.Array("i", MAX_SLOTS, lock=False)),
            drain_timeout=cast("ctypes.c_double", ctx.Value("d", 0.0, lock=False)),
            supervisor_beat=cast("ctypes.c_double", ctx.Value("d", 0.0, lock=False)),
        )

    def beat(self, slot: int, now: float) -> None:
        """Record a heartbeat for ``slot`` at monotonic time ``now``."""
        self.beats[slot] = now

    def last_beat(self, slot: int) -> float:
        """Monotonic time of the slot's last heartbeat, 0.0 if none since the last reset."""
        return float(self.beats[slot])

    def reset_beat(self, slot: int) -> None:
        """Forget the slot's heartbeat (done before each spawn into the slot)."""
        self.beats[slot] = 0.0

    def set_pid(self, slot: int, pid: int) -> None:
        """Record the pid of the slot's live worker."""
        self.pids[slot] = pid

    def clear_pid(self, slot: int, pid: int) -> None:
        """Empty the slot if it still holds ``pid`` (a reaped worker)."""
        if self.pids[slot] == pid:
            self.pids[slot] = 0

    def slot_pid(self, slot: int) -> int:
        """The pid recorded for ``slot`` (0 = empty)."""
        return int(self.pids[slot])

    def live_pids(self) -> list[int]:
        """Pids of every occupied slot, in slot order."""
        return [pid for pid in self.pids[:MAX_SLOTS] if pid != 0]

    def beat_supervisor(self, now: float) -> None:
        """The supervisor loop made a round at monotonic time ``now`` (probes read it)."""
        self.supervisor_beat.value = now

    def last_supervisor_beat(self) -> float:
        """Monotonic time of the supervisor loop's last round, 0.0 before its first."""
        return float(self.supervisor_beat.value)

    def set_drain_timeout(self, timeout_sec: float) -> None:
        """Store the timeout the supervisor and the workers use for the next drain."""
        self.drain_timeout.value = max(0.0, float(timeout_sec))

    def get_drain_timeout(self) -> float:
        """The stored drain timeout in seconds (0.0 until ``set_drain_timeout``)."""
        return float(self.drain_timeout.value)

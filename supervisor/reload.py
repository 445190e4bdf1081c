"""Rolling restart (SIGHUP) as a state machine stepped by the supervisor loop.

For each slot in turn: ask its worker to stop (SIGTERM; the loop SIGKILLs it after the drain
timeout plus grace), let the loop reap and respawn it as usual, then wait until the
replacement has sent its first heartbeat, or ``heartbeat_timeout_sec`` has passed, before
moving to the next slot. Nothing here blocks, so the loop keeps serving other signals.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .heartbeat import SharedState
from .slots import Slot


@dataclass
class RollingRestart:
    """Progress of one rolling restart: slots still to do and the one in flight."""

    pending: deque[int] = field(default_factory=deque)
    current: int | None = None
    old_generation: int = -1
    ready_by: float | None = None

    @classmethod
    def of(cls, slots: Iterable[int]) -> RollingRestart:
        """A rolling restart over ``slots``, in order."""
        return cls(pending=deque(slots))

    def restart(self, slots: Iterable[int]) -> None:
        """Another SIGHUP: finish the slot in flight, then redo every other slot."""
        self.pending = deque(slot for slot in slots if slot != self.current)

    def step(
        self,
        slots: Mapping[int, Slot],
        *,
        target: int,
        shared: SharedState,
        now: float,
        heartbeat_timeout_sec: float,
        stop: Callable[[Slot], None],
    ) -> bool:
        """Advance as far as possible without waiting; True once every slot is done."""
        while True:
            if self.current is None:
                if not self.pending:
                    return True
                self._begin(slots, target, stop)
                continue
            slot = slots.get(self.current)
            if slot is None or self.current >= target:
                self.current = None
                continue
            if slot.generation == self.old_generation:
                return False
            if self.ready_by is None:
                self.ready_by = now + heartbeat_timeout_sec
            if (slot.alive and shared.last_beat(slot.index) > 0.0) or now >= self.ready_by:
                self.current = None
                continue
            return False

    def _begin(self, slots: Mapping[int, Slot], target: int, stop: Callable[[Slot], None]) -> None:
        index = self.pending.popleft()
        slot = slots.get(index)
        if slot is None or index >= target or not slot.alive:
            return
        self.current = index
        self.old_generation = slot.generation
        self.ready_by = None
        stop(slot)

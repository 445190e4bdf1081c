"""Per-slot bookkeeping for the supervisor: the live process, its generation, crash backoff."""

from __future__ import annotations

from dataclasses import dataclass

from .processes import ProcessLike

BACKOFF_MIN_SEC = 0.1
BACKOFF_MAX_SEC = 5.0
SHORT_LIFE_SEC = 1.0
"""A worker that dies sooner than this after spawn is crash-looping: respawn with backoff."""
HEALTHY_LIFE_SEC = 10.0
"""A worker that lived longer than this resets its slot's backoff."""


@dataclass
class Slot:
    """One worker slot; ``generation`` is -1 until the slot's first spawn."""

    index: int
    generation: int = -1
    proc: ProcessLike | None = None
    pid: int = 0
    spawned_at: float = 0.0
    respawn_at: float = 0.0
    backoff_sec: float = BACKOFF_MIN_SEC
    stop_requested: bool = False
    kill_at: float | None = None
    killed: bool = False

    @property
    def alive(self) -> bool:
        """True from spawn until the supervisor reaps the process."""
        return self.proc is not None

    def started(self, proc: ProcessLike, now: float) -> None:
        """Record a freshly started process of the next generation."""
        self.proc = proc
        self.pid = proc.pid or 0
        self.spawned_at = now
        self.stop_requested = False
        self.kill_at = None
        self.killed = False

    def exited(self, now: float) -> float:
        """Forget the reaped process, schedule the next spawn; returns the delay chosen."""
        lifetime = now - self.spawned_at
        delay = 0.0
        if self.stop_requested:
            delay = 0.0
        elif lifetime < SHORT_LIFE_SEC:
            delay = self.backoff_sec
            self.backoff_sec = min(self.backoff_sec * 2, BACKOFF_MAX_SEC)
        elif lifetime > HEALTHY_LIFE_SEC:
            self.backoff_sec = BACKOFF_MIN_SEC
        self.proc = None
        self.pid = 0
        self.respawn_at = now + delay
        return delay

    def spawn_failed(self, now: float) -> None:
        """Fork failed: try again after the slot's backoff."""
        self.respawn_at = now + self.backoff_sec
        self.backoff_sec = min(self.backoff_sec * 2, BACKOFF_MAX_SEC)

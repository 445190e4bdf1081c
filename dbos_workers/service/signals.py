"""The main process's signal intake: handlers only queue the signal and wake the runner's
loop (an Event its main thread waits on); the runner dispatches. Every signal is logged by
name when dispatched."""

from __future__ import annotations

import signal
import threading
from collections import deque
from types import FrameType

HANDLED: tuple[signal.Signals, ...] = (
    signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU)
FORWARDED = frozenset({signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU})
DRAIN = frozenset({signal.SIGTERM, signal.SIGINT})


class MainSignals:
    def __init__(self) -> None:
        self._queue: deque[signal.Signals] = deque()
        self.wakeup = threading.Event()

    def install(self) -> None:
        for sig in HANDLED:
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if len(self._queue) < 64:
            self._queue.append(signal.Signals(signum))
        self.wakeup.set()

    def wait(self, timeout: float) -> list[signal.Signals]:
        """Sleep until a signal (or wakeup.set()) or timeout; the queued signals, oldest first."""
        if not self._queue:
            self.wakeup.wait(timeout)
        self.wakeup.clear()
        taken: list[signal.Signals] = []
        while self._queue:
            taken.append(self._queue.popleft())
        return taken

    def pending_stop(self) -> bool:
        """A drain or stop signal is queued (checked while waiting for the database)."""
        return any(sig in DRAIN or sig == signal.SIGQUIT for sig in self._queue)

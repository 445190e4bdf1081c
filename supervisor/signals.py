"""Signal queue and self-pipe for the supervisor loop (gunicorn's arbiter pattern).

Handlers do nothing but append the signal to a bounded queue and write one byte to a
non-blocking pipe; the main loop sleeps in ``wait`` on the pipe's read end and dispatches the
queued signals itself, so no real work ever runs inside a signal handler. ``SIGCHLD`` only
wakes the loop (reaping is the loop's job) and is never queued.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
from collections import deque
from collections.abc import Iterable
from types import FrameType

QUEUE_LIMIT = 16
"""Signals beyond this many undispatched ones are dropped (a burst of the same request)."""


class SignalQueue:
    """Queued signals plus the self-pipe that wakes the supervisor loop."""

    def __init__(self) -> None:
        self._queue: deque[signal.Signals] = deque()
        self._read_fd, self._write_fd = os.pipe()
        for fd in (self._read_fd, self._write_fd):
            os.set_blocking(fd, False)

    def install(self, signals: Iterable[signal.Signals]) -> None:
        """Route ``signals`` to the queue and make ``SIGCHLD`` wake the loop."""
        for sig in signals:
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGCHLD, self._on_child)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if len(self._queue) < QUEUE_LIMIT:
            self._queue.append(signal.Signals(signum))
        self.wakeup()

    def _on_child(self, _signum: int, _frame: FrameType | None) -> None:
        self.wakeup()

    def wakeup(self) -> None:
        """Make the next (or current) ``wait`` return at once."""
        try:
            os.write(self._write_fd, b".")
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EINTR, errno.EBADF):
                raise

    def wait(self, timeout: float) -> None:
        """Sleep until a signal arrives or ``timeout`` seconds pass, then empty the pipe."""
        if self._queue:
            timeout = 0.0
        try:
            ready, _, _ = select.select([self._read_fd], [], [], max(0.0, timeout))
        except OSError as exc:
            if exc.errno != errno.EINTR:
                raise
            return
        if ready:
            self._drain_pipe()

    def _drain_pipe(self) -> None:
        while True:
            try:
                if not os.read(self._read_fd, 4096):
                    return
            except BlockingIOError:
                return
            except InterruptedError:
                continue

    def pop_all(self) -> list[signal.Signals]:
        """Take every queued signal, oldest first."""
        taken: list[signal.Signals] = []
        while self._queue:
            taken.append(self._queue.popleft())
        return taken

    def close(self) -> None:
        """Close the pipe (in a freshly forked worker, which must not keep it)."""
        for fd in (self._read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

"""Coalesced queue wake-ups: at most one NOTIFY per queue per window from this process.

The first enqueue in a quiet window notifies inside its own statement (no added latency);
enqueues that follow within the window are covered by one deferred NOTIFY at its end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger("dbos_workers.notifier")


class QueueWakeCoalescer:
    name = "queue-wake-coalescer"

    def __init__(self, send: Callable[[str], None], window_sec: float = 0.01) -> None:
        self._send = send
        self.window = window_sec
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._deferred: set[str] = set()
        self._timer: threading.Timer | None = None
        self._closed = False

    def claim_inline(self, queue: str) -> bool:
        """True: the caller sends the NOTIFY with its statement. False: a deferred one will."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(queue, -1e9) >= self.window and queue not in self._deferred:
                self._last[queue] = now
                return True
            self._deferred.add(queue)
            if self._timer is None and not self._closed:
                self._timer = threading.Timer(self.window, self._flush)
                self._timer.daemon = True
                self._timer.start()
            return False

    def _flush(self) -> None:
        with self._lock:
            queues, self._deferred = self._deferred, set()
            self._timer = None
            now = time.monotonic()
            for q in queues:
                self._last[q] = now
        for queue in queues:
            try:
                self._send(queue)
            except Exception as exc:  # workers also poll; a lost wake-up only adds latency
                log.warning("queue_wake_failed", queue=queue, error=str(exc)[:200])

    def start(self) -> None:
        """Nothing runs until a wake-up is deferred (a timer thread per window)."""

    def stop(self, timeout: float = 0.0) -> bool:
        """Send the deferred wake-ups now and accept no more timers."""
        self.close()
        return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timer = self._timer
        if timer is not None:
            timer.cancel()
            self._flush()

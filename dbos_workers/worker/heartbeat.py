"""Heartbeat service: shared-memory beat for the supervisor, lease row for other hosts, and a
parent check (a worker drains by itself when its supervisor is gone)."""

from __future__ import annotations

import threading
import time
from typing import Any

from ..runtime import Runtime


class Heartbeat:
    def __init__(self, rt: Runtime, wctx: Any, drain: threading.Event, beat_sec: float = 1.0) -> None:
        self.rt, self.wctx, self.drain, self.beat_sec = rt, wctx, drain, beat_sec
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lease_every = max(1.0, rt.settings.executor_lease_sec / 3)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dbos-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        last_lease = 0.0
        while not self._stop.is_set():
            self.wctx.beat()
            if not self.wctx.parent_alive():
                self.rt.log.warning("supervisor_gone")
                self.drain.set()
            if time.monotonic() - last_lease >= self.lease_every:
                try:
                    self.rt.heartbeat()
                    last_lease = time.monotonic()
                except Exception as exc:
                    self.rt.log.warning("lease_heartbeat_failed", error=str(exc)[:200])
            self._stop.wait(self.beat_sec)

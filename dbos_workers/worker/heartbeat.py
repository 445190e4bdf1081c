"""Heartbeat service: shared-memory beat for the supervisor, lease row for other hosts, and a
parent check (a worker drains by itself when its supervisor is gone)."""

from __future__ import annotations

import threading
import time
from typing import Any

from ..runtime import Runtime
from ..service import ThreadService


class Heartbeat(ThreadService):
    thread_name, join_timeout = "dbos-heartbeat", 2.0

    def __init__(self, rt: Runtime, wctx: Any, drain: threading.Event, beat_sec: float = 1.0) -> None:
        self.rt, self.wctx, self.drain, self.beat_sec = rt, wctx, drain, beat_sec
        super().__init__()
        self.lease_every = max(1.0, rt.settings.executor_lease_sec / 3)

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

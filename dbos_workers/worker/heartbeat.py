"""Heartbeat service of a worker: the shared-memory beat the supervisor watches, the lease
row other hosts read, and the parent check (a worker drains by itself when its supervisor is
gone)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..runtime import Runtime
from ..services import ThreadService


class Heartbeat(ThreadService):
    name = "dbos-heartbeat"

    def __init__(self, rt: Runtime, wctx: Any, on_orphaned: Callable[[], None],
                 beat_sec: float = 1.0) -> None:
        super().__init__()
        self.rt, self.wctx, self.on_orphaned, self.beat_sec = rt, wctx, on_orphaned, beat_sec
        self.lease_every = max(1.0, rt.settings.executor_lease_sec / 3)

    def _run(self) -> None:
        last_lease = 0.0
        while not self._stop.is_set():
            self.wctx.beat()
            if not self.wctx.parent_alive():
                self.rt.log.warning("supervisor_gone")
                self.on_orphaned()
            if time.monotonic() - last_lease >= self.lease_every:
                try:
                    self.rt.heartbeat()
                    last_lease = time.monotonic()
                except Exception as exc:
                    self.rt.log.warning("lease_heartbeat_failed", error=str(exc)[:200])
            self._stop.wait(self.beat_sec)

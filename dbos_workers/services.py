"""The one contract of every background role: `start()` and `stop(timeout) -> bool` (True:
stopped within the timeout). ThreadService runs `_run()` on a named daemon thread until
`self._stop` is set. ServiceGroup starts services in the order given and stops them in
reverse, so each process states its boot order once and its drain order follows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import structlog

from .osname import name_thread

log = structlog.get_logger("dbos_workers.services")


class Service(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self, timeout: float) -> bool: ...


class ThreadService:
    name = "dbos-service"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        self._stop.set()
        self._wake()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._stopped()
        return thread is None or not thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stop.is_set()

    def _main(self) -> None:
        name_thread()
        self._run()

    def _run(self) -> None:
        raise NotImplementedError

    def _wake(self) -> None:
        """Hook: unblock _run so it sees _stop (a thread waiting on something else)."""

    def _stopped(self) -> None:
        """Hook after the thread ended (close connections...)."""


class Hooks:
    """A service made of two callables (opening a pool, recording a registration...)."""

    def __init__(self, name: str, start: Callable[[], None],
                 stop: Callable[[float], bool | None]) -> None:
        self.name, self._start, self._stop = name, start, stop

    def start(self) -> None:
        self._start()

    def stop(self, timeout: float) -> bool:
        return self._stop(timeout) is not False


class ServiceGroup:
    def __init__(self, *services: Service) -> None:
        self.services = list(services)
        self._started: list[Service] = []

    def start(self) -> None:
        """Start in order; if one fails, stop the ones already started and re-raise."""
        for service in self.services:
            try:
                service.start()
            except BaseException:
                self.stop(1.0)
                raise
            self._started.append(service)

    def stop(self, timeout: float) -> bool:
        """Stop in reverse order, sharing one deadline; False if any did not stop in time
        (logged), or raised (logged; the others still stop)."""
        deadline = time.monotonic() + timeout
        clean = True
        while self._started:
            service = self._started.pop()
            try:
                ok = service.stop(max(0.0, deadline - time.monotonic()))
            except Exception as exc:
                log.warning("service_stop_failed", service=service.name, error=repr(exc)[:200])
                ok = False
            if not ok:
                log.warning("service_stop_timeout", service=service.name)
                clean = False
        return clean

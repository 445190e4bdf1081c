"""The one contract of every background role: start() runs _run() on a daemon thread,
stop() asks it to end (self._stop) and waits for it."""

from __future__ import annotations

import threading

from .osname import name_thread


class ThreadService:
    thread_name = "dbos-service"
    join_timeout = 5.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.join_timeout)
        self._stopped()

    def _main(self) -> None:
        name_thread()
        self._run()

    def _run(self) -> None:
        raise NotImplementedError

    def _stopped(self) -> None:
        """Hook after the thread ended (close connections...)."""

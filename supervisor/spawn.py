"""Starting the supervisor from the app process, and the handle the app keeps."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import NoReturn

from .arbiter import Arbiter, SupervisorConfig
from .child import WorkerMain, set_process_name
from .constants import DRAIN_REQUEST, MAX_SLOTS
from .heartbeat import SharedState
from .processes import ProcessLike, allow_children, fork_context, new_process


class SupervisorHandle:
    """The app process's view of a running supervisor."""

    def __init__(self, process: ProcessLike, shared: SharedState) -> None:
        self._process = process
        self._shared = shared
        self.pid: int = process.pid or 0

    def drain(self, timeout_sec: float) -> None:
        """Graceful stop: store ``timeout_sec`` for the workers, then ask the supervisor to drain.

        Workers get SIGTERM and ``timeout_sec`` + ``drain_grace_sec`` to exit before SIGKILL.
        The request is ``DRAIN_REQUEST`` (SIGUSR1), not SIGTERM: if a process-group SIGTERM
        already reached the supervisor, this is the same drain, not a second SIGTERM.
        """
        self._shared.set_drain_timeout(timeout_sec)
        self._send(DRAIN_REQUEST)

    def stop(self) -> None:
        """Hard stop: SIGQUIT the supervisor (workers get SIGQUIT, SIGKILL after 2 s)."""
        self._send(signal.SIGQUIT)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the supervisor to exit; True once it has exited and been reaped."""
        self._process.join(timeout)
        return self._process.exitcode is not None

    def is_alive(self) -> bool:
        """True while the supervisor process runs."""
        return self._process.is_alive()

    def worker_pids(self) -> list[int]:
        """Pids of the live workers, as the supervisor and workers record them."""
        return self._shared.live_pids()

    def worker_beats(self) -> dict[int, float]:
        """{pid: monotonic time of its last heartbeat (0.0 = none yet)} of the live workers."""
        return {pid: self._shared.last_beat(slot)
                for slot in range(MAX_SLOTS) if (pid := self._shared.slot_pid(slot))}

    def loop_beat(self) -> float:
        """Monotonic time of the supervisor loop's last round (0.0 before its first)."""
        return self._shared.last_supervisor_beat()

    @property
    def exitcode(self) -> int | None:
        """The supervisor's exit code (negative: killed by that signal), None while running."""
        return self._process.exitcode

    def _send(self, sig: signal.Signals) -> None:
        if self._process.exitcode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def __repr__(self) -> str:
        return f"SupervisorHandle(pid={self.pid}, exitcode={self.exitcode})"


def spawn_supervisor(
    worker_main: WorkerMain,
    *,
    workers: int,
    heartbeat_timeout_sec: float = 30.0,
    drain_grace_sec: float = 10.0,
    drain_timeout_sec: float = 0.0,
    name: str = "dbos-workers",
    own_process_group: bool = False,
) -> SupervisorHandle:
    """Fork the supervisor process and return a handle to it in the caller.

    Call it from a process that holds no database connections or threads that matter: the
    supervisor is a fork of the caller, and each worker is a fork of the supervisor that runs
    ``worker_main(ctx)`` and exits with its return code. The supervisor is a daemonic
    ``multiprocess`` child, so if the caller exits without draining it, ``multiprocess``'s exit
    hook sends it SIGTERM (a drain with the stored timeout) and waits for it.
    ``drain_timeout_sec`` is the stored timeout until ``SupervisorHandle.drain`` sets another:
    what a drain started by a signal to the supervisor itself (e.g. its process group) uses.
    ``own_process_group``: the supervisor and its workers leave the caller's process group, so
    a signal to that group reaches the caller only (``dbos-workers start``, which forwards it).
    """
    if not 0 <= workers <= MAX_SLOTS:
        raise ValueError(f"workers must be between 0 and {MAX_SLOTS}, got {workers}")
    if heartbeat_timeout_sec <= 0:
        raise ValueError("heartbeat_timeout_sec must be positive")
    if drain_grace_sec < 0:
        raise ValueError("drain_grace_sec must not be negative")
    shared = SharedState.create(fork_context())
    shared.set_drain_timeout(drain_timeout_sec)
    config = SupervisorConfig(
        workers=workers,
        heartbeat_timeout_sec=heartbeat_timeout_sec,
        drain_grace_sec=drain_grace_sec,
        name=name,
        own_process_group=own_process_group,
    )
    process = new_process(
        _supervisor_main,
        (worker_main, config, shared, os.getpid()),
        name=f"{name}-supervisor",
        daemon=True,
    )
    process.start()
    return SupervisorHandle(process, shared)


def _supervisor_main(
    worker_main: WorkerMain, config: SupervisorConfig, shared: SharedState, parent_pid: int
) -> NoReturn:
    """Body of the supervisor process; leaves with ``os._exit`` so no inherited hook runs."""
    code = 1
    try:
        allow_children()
        set_process_name("dbw-supervisor")
        code = Arbiter(worker_main, config, shared, parent_pid=parent_pid).run()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        os._exit(code)

"""What runs inside a worker process: the context handed to ``worker_main`` and the bootstrap.

The bootstrap runs right after the supervisor forks: it restores default signal handling
(``worker_main`` installs its own), asks the kernel to send SIGTERM if the supervisor dies,
records the worker's pid in shared memory, calls ``worker_main(ctx)`` and leaves with
``os._exit(<its return code>)`` so nothing inherited from the supervisor runs at exit.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import NoReturn

import structlog

from .constants import MANAGED_SIGNALS
from .heartbeat import SharedState
from .signals import SignalQueue

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15

logger = structlog.get_logger("dbos_workers.supervisor")

IGNORED_IN_WORKERS = (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU)
"""Signals meant for the supervisor (restart, scale) that a worker ignores when they reach
it too, as a signal to a whole process group does (their default would end or stop it)."""


class WorkerContext:
    """Handed to ``worker_main`` in each worker process."""

    def __init__(
        self, *, slot: int, generation: int, supervisor_pid: int, shared: SharedState
    ) -> None:
        self.slot = slot
        """Stable slot number 0..N-1; a respawned worker gets the dead one's slot."""
        self.generation = generation
        """0 for the first process of a slot, +1 for each later process of the same slot."""
        self.supervisor_pid = supervisor_pid
        self._shared = shared

    def beat(self) -> None:
        """Write ``time.monotonic()`` into this slot's heartbeat (safe from any thread)."""
        self._shared.beat(self.slot, time.monotonic())

    def drain_timeout_sec(self) -> float:
        """The timeout stored by ``SupervisorHandle.drain`` (0.0 by default)."""
        return self._shared.get_drain_timeout()

    def parent_alive(self) -> bool:
        """True while the supervisor that forked this worker is still its parent."""
        return os.getppid() == self.supervisor_pid

    def __repr__(self) -> str:
        return (
            f"WorkerContext(slot={self.slot}, generation={self.generation}, "
            f"supervisor_pid={self.supervisor_pid})"
        )


WorkerMain = Callable[[WorkerContext], int]


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, arg: int | ctypes.c_char_p) -> bool:
    """Linux prctl(2), best effort: False where it fails or does not exist."""
    try:
        return int(_libc().prctl(option, arg, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def set_parent_death_signal(sig: signal.Signals) -> bool:
    """Ask Linux to send ``sig`` when the parent dies (``prctl(PR_SET_PDEATHSIG)``), best effort."""
    return _prctl(PR_SET_PDEATHSIG, int(sig))


def set_process_name(name: str) -> bool:
    """Name the calling thread (the process, from its main thread) for ps/top/htop
    (``prctl(PR_SET_NAME)``, 15 bytes), best effort."""
    return _prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]))


def bootstrap_worker(
    worker_main: WorkerMain, ctx: WorkerContext, signals: SignalQueue, shared: SharedState
) -> NoReturn:
    """Bootstrap of a freshly forked worker; never returns.

    The supervisor forks with ``MANAGED_SIGNALS`` blocked, so a signal sent before the default
    handlers are back is delivered (with its default action) instead of reaching the
    supervisor's queue handler inherited by the fork.
    """
    code = 1
    try:
        for sig in (*MANAGED_SIGNALS, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        for sig in IGNORED_IN_WORKERS:  # a process-group HUP/TTIN/TTOU is the supervisor's
            signal.signal(sig, signal.SIG_IGN)
        signals.close()
        set_parent_death_signal(signal.SIGTERM)
        set_process_name(f"dbw-worker-{ctx.slot}")
        signal.pthread_sigmask(signal.SIG_UNBLOCK, MANAGED_SIGNALS)
        if not ctx.parent_alive():
            code = 0
        else:
            shared.set_pid(ctx.slot, os.getpid())
            code = call_worker_main(worker_main, ctx)
    finally:
        _flush_std_streams()
        os._exit(code)


def call_worker_main(worker_main: WorkerMain, ctx: WorkerContext) -> int:
    """Run ``worker_main`` and turn its outcome into a process exit code (0..255)."""
    try:
        result: object = worker_main(ctx)
    except SystemExit as exc:
        result = exc.code
    except BaseException:
        logger.exception(
            "worker_crashed", pid=os.getpid(), slot=ctx.slot, generation=ctx.generation
        )
        return 1
    if result is None:
        return 0
    if isinstance(result, int) and 0 <= result <= 255:
        return result
    return 1


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()

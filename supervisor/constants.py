"""Constants shared by the supervisor, its workers and the handle in the app process."""

from __future__ import annotations

import signal

WORKER_BOOT_ERROR = 3
"""Exit code of a worker that failed at boot; it stops the supervisor instead of a respawn."""

MAX_SLOTS = 256
"""Number of worker slots preallocated in shared memory (heartbeats and pids)."""

DRAIN_REQUEST = signal.SIGUSR1
"""The app's drain request (``SupervisorHandle.drain``). Unlike SIGTERM it never escalates: a
process-group SIGTERM (systemd, Ctrl-C) reaches the supervisor and the app at once, and the
app's forward of it must not count as a second SIGTERM (a hard stop)."""

MANAGED_SIGNALS: tuple[signal.Signals, ...] = (
    DRAIN_REQUEST,
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGTTIN,
    signal.SIGTTOU,
)
"""Signals the supervisor handles and every worker resets to its default action."""

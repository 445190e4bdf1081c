"""Constants shared by the supervisor, its workers and the handle in the app process."""

from __future__ import annotations

import signal

WORKER_BOOT_ERROR = 3
"""Exit code of a worker that failed at boot; it stops the supervisor instead of a respawn."""

MAX_SLOTS = 256
"""Number of worker slots preallocated in shared memory (heartbeats and pids)."""

MANAGED_SIGNALS: tuple[signal.Signals, ...] = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGTTIN,
    signal.SIGTTOU,
)
"""Signals the supervisor handles and every worker resets to its default action."""

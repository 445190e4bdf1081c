"""Pre-fork process supervisor (gunicorn's arbiter shape); no database code.

``spawn_supervisor`` forks a supervisor process from the app; the supervisor forks the workers,
respawns dead ones (crash-loop backoff), kills hung ones (shared-memory heartbeats), scales on
SIGTTIN/SIGTTOU, restarts them one by one on SIGHUP and drains on SIGTERM/SIGINT. Imported as
``dbos_workers.supervisor``; modules inside use relative imports only.
"""

from __future__ import annotations

from .child import WorkerContext
from .constants import MAX_SLOTS, WORKER_BOOT_ERROR
from .spawn import SupervisorHandle, spawn_supervisor

__all__ = [
    "MAX_SLOTS",
    "WORKER_BOOT_ERROR",
    "SupervisorHandle",
    "WorkerContext",
    "spawn_supervisor",
]

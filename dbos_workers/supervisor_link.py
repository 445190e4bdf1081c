"""The one place the library reaches the supervisor package. supervisor/ sits at the top of
the source tree and is installed as dbos_workers.supervisor (pyproject maps it), so it is
imported by name at run time; this module gives its few names types."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

_supervisor = importlib.import_module("dbos_workers.supervisor")

WORKER_BOOT_ERROR: int = _supervisor.WORKER_BOOT_ERROR
"""Exit code of a worker that failed at boot: it stops the supervisor instead of a respawn."""

spawn_supervisor: Callable[..., Any] = _supervisor.spawn_supervisor
set_process_name: Callable[[str], bool] = importlib.import_module(
    "dbos_workers.supervisor.child").set_process_name

"""Before `dbos-workers start` launches: import the app (one line and exit 2 when it does not
exist), apply the command line over its config, warn about the private embedded database, and
wait for an unreachable database with backoff (one line per attempt)."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import structlog

from ..config import validate_database_url
from ..db import migrate
from ..db.repository import mask_url
from ..errors import DatabaseUnavailableError

log = structlog.get_logger("dbos_workers.service")


class AppLoadError(Exception):
    """The app named on the command line cannot be found (exit 2, one line)."""


def load_app(target: str) -> ModuleType:
    """Import MODULE (dotted) or FILE.py; the app defines DBOS(config=...) and its workflows."""
    sys.path.insert(0, os.getcwd())
    if target.endswith(".py") or os.sep in target:
        path = Path(target).resolve()
        if not path.is_file():
            raise AppLoadError(f"no such file: {target}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise AppLoadError(f"cannot import {target}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        raise AppLoadError(f"cannot import {target}: {exc}") from None


def apply_overrides(instance: Any, *, url: str | None, workers: int | None) -> None:
    """--url and --workers over the app's config (both the facade's and the lifecycle's)."""
    changes: dict[str, Any] = {}
    if url:
        changes["database_url"] = validate_database_url(url)
    if workers is not None:
        changes["worker_processes"] = workers
    if changes:
        settings = dataclasses.replace(instance.lifecycle.settings, **changes)
        instance.settings = instance.lifecycle.settings = settings


def warn_if_embedded(instance: Any) -> None:
    settings = instance.lifecycle.settings
    if settings.database_url is None:
        log.warning("database_embedded", data_dir=str(settings.embedded_data_dir),
                    hint="no system_database_url, --url or DBOS_SYSTEM_DATABASE_URL: this "
                         "service uses a Postgres private to this host; other hosts and "
                         "processes elsewhere will not see its work")


def wait_for_database(url: str, wait_sec: float,
                      should_stop: Callable[[], bool] = lambda: False) -> bool:
    """True once the database answers; False after wait_sec of failures (or when told to
    stop). Backoff 0.5 s doubling to 5 s; one warning line per failed attempt."""
    deadline = time.monotonic() + wait_sec
    delay, attempt = 0.5, 0
    while True:
        attempt += 1
        try:
            migrate.ensure_database(url)
            if attempt > 1:
                log.info("database_reachable", attempts=attempt)
            return True
        except DatabaseUnavailableError as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                log.error("database_wait_exhausted", attempts=attempt, waited_sec=wait_sec,
                          database=mask_url(url), error=str(exc)[:300])
                return False
            pause = min(delay, left)
            log.warning("database_unreachable", attempt=attempt, retry_in_sec=round(pause, 1),
                        remaining_sec=round(left, 1), database=mask_url(url), error=str(exc)[:300])
            if _sleep(pause, should_stop):
                return False
            delay = min(5.0, delay * 2)


def _sleep(seconds: float, should_stop: Callable[[], bool]) -> bool:
    """Sleep in short slices (signal handlers run in between); True when told to stop."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.2))
        if should_stop():
            return True
    return False

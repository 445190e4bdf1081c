"""The application version, computed as DBOS computes it when neither the config's
application_version nor DBOS__APPVERSION sets one: an MD5 over the sorted source of every
registered workflow (steps' temporary workflows included, as DBOS), this library's version and
the application name. Identical code gives an identical version; changing a workflow changes
it. Computed once, at launch, from the workflows registered by then."""

from __future__ import annotations

import hashlib
import inspect
from importlib import metadata

import structlog

from .registry import Registry

log = structlog.get_logger("dbos_workers.appversion")


def library_version() -> str:
    try:
        return metadata.version("dbos-workers")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def compute_app_version(registry: Registry, app_name: str) -> str:
    hasher = hashlib.md5()
    try:
        sources = sorted(inspect.getsource(info.func) for info in list(registry.workflows.values()))
    except (OSError, TypeError) as exc:
        log.warning("application_version_default", error=str(exc)[:200],
                    hint="set application_version in DBOSConfig")
        return f"DEFAULT_VERSION-{app_name}"
    for source in [*sources, library_version(), app_name]:
        hasher.update(source.encode("utf-8"))
    return hasher.hexdigest()

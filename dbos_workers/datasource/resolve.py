"""Which database a datasource uses, and its URL for SQLAlchemy.

The default application database (2.x `@DBOS.transaction` without `application_database_url`,
or `SQLAlchemyDatasource.create()` without a URL), resolved in the launched process from its
settings and system database URL:
- `application_database_url` when configured;
- the embedded Postgres (no system database URL): database `<name>_app` on the same server,
  created if missing;
- otherwise the system database itself (its checkpoint table lives in the datasource's schema,
  `dbos` by default, apart from the system schema).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..config import Settings, validate_database_url
from ..db import migrate
from ..embedded import app_database_name
from ..errors import DBOSNotLaunchedError
from ..runtime import process_runtime

DRIVER = "postgresql+psycopg"


def driver_url(url: str) -> str:
    """A Postgres URL (any driver spelling) as SQLAlchemy's psycopg 3 URL."""
    plain = validate_database_url(url, "database_url")
    return DRIVER + plain[len("postgresql"):]


def plain_url(url: str) -> str:
    """The libpq form of a driver URL (for our own psycopg connections)."""
    return "postgresql" + url[len(DRIVER):] if url.startswith(DRIVER) else url


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def application_url(settings: Settings, system_url: str) -> str:
    """The default application database of a process with these settings (libpq form)."""
    if settings.application_database_url:
        return settings.application_database_url
    if settings.database_url is None:  # the embedded Postgres
        return with_database(system_url, app_database_name(settings.name))
    return system_url


def resolve_url() -> str:
    rt = process_runtime()
    if rt is None:
        raise DBOSNotLaunchedError(
            "the default application database is known once DBOS is launched: call "
            "DBOS.launch() first, or pass a database URL to SQLAlchemyDatasource.create()")
    return driver_url(application_url(rt.settings, rt.conninfo))


def prepare_database(url: str) -> None:
    """CREATE DATABASE for the default application database when it does not exist."""
    migrate.ensure_database(plain_url(url))

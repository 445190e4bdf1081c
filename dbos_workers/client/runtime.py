"""The client's runtime: the system database's typed stores and a LISTEN connection for
completion, message and event wake-ups, and nothing else. No executor registration (no
lease), no group commit, no executor threads, no migrations: it never runs a workflow."""

from __future__ import annotations

from typing import Any

from ..config import build_settings
from ..db.queries import migration_files
from ..errors import DatabaseUnavailableError, DBOSConfigError, DBOSException, DBOSSchemaMissingError
from ..registry import Registry
from ..runtime import Runtime
from ..serialization import Serializer
from ..services import Hooks, ServiceGroup

CLIENT_EXECUTOR_ID = "dbos-client"


def client_runtime(system_database_url: str | None, schema: str, serializer: Serializer | str | None,
                   pool_size: int, application_name: str | None) -> Runtime:
    import os

    url = system_database_url or os.environ.get("DBOS_SYSTEM_DATABASE_URL")
    if not url:
        raise DBOSConfigError("DBOSClient needs system_database_url (or DBOS_SYSTEM_DATABASE_URL): "
                              "a client never starts the embedded Postgres")
    config: dict[str, Any] = {"name": application_name or CLIENT_EXECUTOR_ID, "system_database_url": url,
                              "dbos_system_schema": schema, "serializer": serializer,
                              "sys_db_pool_size": pool_size}
    settings = build_settings(config)
    rt = Runtime(settings, Registry(), str(settings.database_url), CLIENT_EXECUTOR_ID, "client",
                       pool_size, 1)
    rt.db.open()
    try:
        check_schema(rt)
    except BaseException:
        rt.db.close()
        raise
    # Its services: the pool (opened above) and the listener, nothing else.
    rt.services = ServiceGroup(Hooks("database-pool", lambda: None, lambda _: rt.db.close()), rt.listener)
    rt.start()
    return rt


def check_schema(rt: Runtime) -> None:
    """The schema exists and has every migration this code knows; else DBOSSchemaMissingError
    (the client never migrates: run `dbos-workers migrate` or launch the service)."""
    schema = rt.settings.schema
    latest = max(version for version, _, _ in migration_files())
    try:
        version = rt.db.admin.migrated_version()
    except DatabaseUnavailableError:
        raise
    except DBOSException:
        raise DBOSSchemaMissingError(
            f"no dbos-workers schema {schema!r} in this database: run `dbos-workers migrate` "
            "or launch the service first; a client never migrates") from None
    if version is None or version < latest:
        raise DBOSSchemaMissingError(
            f"schema {schema!r} is at migration {version}, this client needs {latest}: run "
            "`dbos-workers migrate`; a client never migrates")

"""The 2.x form: `@DBOS.transaction()` and `DBOS.sql_session` on one process-wide datasource
over the default application database (config `application_database_url`, else resolve.py's
default), made at the first decoration."""

from __future__ import annotations

import threading

from .sync import SQLAlchemyDatasource

_lock = threading.Lock()
_default: SQLAlchemyDatasource | None = None


def default_datasource() -> SQLAlchemyDatasource:
    global _default
    with _lock:
        if _default is None:
            _default = SQLAlchemyDatasource(None)
        return _default

"""Transactions on an application database through SQLAlchemy: `SQLAlchemyDatasource` and
`AsyncSQLAlchemyDatasource` (DBOS 3.x), and the 2.x `@DBOS.transaction()` on the default
application database. SQL lives in sql/app_queries/ and sql/app_migrations/; appdb.py is the
only code here that runs it."""

from .aio import AsyncSQLAlchemyDatasource
from .session import current_session
from .sync import IsolationLevel, SQLAlchemyDatasource, close_all, forget_all

__all__ = ["AsyncSQLAlchemyDatasource", "IsolationLevel", "SQLAlchemyDatasource", "close_all",
           "current_session", "forget_all"]

"""Transactions without a database: the application database's SQL is data like the system
database's, error classification, the backoff, the default database's URL, options."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg_errors
from sqlalchemy.exc import OperationalError, ProgrammingError

from dbos_workers import DBOSConfigError, DBOSWorkersError
from dbos_workers.config import build_settings
from dbos_workers.datasource import SQLAlchemyDatasource
from dbos_workers.datasource.appdb import Failure, classify, quote_schema, translate
from dbos_workers.datasource.resolve import application_url, driver_url, plain_url
from dbos_workers.datasource.retry import TxBackoff
from dbos_workers.db.queries import load_queries, migration_files
from dbos_workers.errors import DatabaseUnavailableError

ROOT = Path(__file__).resolve().parents[2]


def test_every_application_query_is_used_and_exists() -> None:
    names = set(load_queries("app_queries"))
    source = (ROOT / "dbos_workers" / "datasource" / "appdb.py").read_text()
    used = set(re.findall(r"""_run\(conn, ["']([a-z0-9_]+)["']""", source))
    assert used == names
    assert not names & set(load_queries()), "application and system query names must differ"


def test_application_migrations_are_numbered_and_name_the_schema() -> None:
    files = migration_files("app_migrations")
    assert [v for v, _, _ in files] == list(range(1, len(files) + 1))
    assert all("{schema}." in text for _, _, text in files)


def _dbapi(orig: Exception, invalidated: bool = False) -> OperationalError:
    return OperationalError("stmt", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(("error", "failure"), [
    (_dbapi(pg_errors.SerializationFailure()), Failure.CONFLICT),
    (_dbapi(pg_errors.DeadlockDetected()), Failure.CONFLICT),
    (_dbapi(psycopg.OperationalError("server closed the connection unexpectedly")), Failure.UNAVAILABLE),
    (_dbapi(pg_errors.AdminShutdown()), Failure.UNAVAILABLE),
    (_dbapi(pg_errors.QueryCanceled()), Failure.FATAL),
    (_dbapi(pg_errors.UniqueViolation(), invalidated=True), Failure.UNAVAILABLE),
    (ProgrammingError("stmt", {}, pg_errors.SyntaxError()), Failure.FATAL),
    (DatabaseUnavailableError(), Failure.UNAVAILABLE),
    (ValueError("user error"), Failure.FATAL),
])
def test_classify(error: BaseException, failure: Failure) -> None:
    assert classify(error) is failure


def test_translate_masks_passwords_and_types_the_error() -> None:
    lost = translate(_dbapi(psycopg.OperationalError("connection to postgresql://u:secret@h/db failed")))
    assert isinstance(lost, DatabaseUnavailableError) and "secret" not in str(lost)
    other = translate(ProgrammingError("stmt", {}, pg_errors.SyntaxError("near selct")))
    assert type(other) is DBOSWorkersError and "selct" in str(other)
    mine = ValueError("x")
    assert translate(mine) is mine


def test_backoff_is_dboss_and_outages_have_a_budget() -> None:
    slept: list[float] = []
    backoff = TxBackoff(budget_sec=0.0, sleep=slept.append)
    assert all(backoff.wait(conflict=True) for _ in range(20))
    assert slept[:3] == pytest.approx([0.001, 0.0015, 0.00225]) and max(slept) == 2.0
    assert backoff.wait(conflict=False) is False  # a lost database past the budget: give up


def test_default_application_database() -> None:
    embedded = build_settings({"name": "shop-app"})
    assert application_url(embedded, "postgresql://postgres:@/shop_app_sys?host=/s") == \
        "postgresql://postgres:@/shop_app_app?host=/s"
    explicit = build_settings({"name": "shop", "system_database_url": "postgresql://h/sys"})
    assert application_url(explicit, "postgresql://h/sys") == "postgresql://h/sys"
    configured = build_settings({"name": "shop", "application_database_url": "postgres://h/app"})
    assert application_url(configured, "postgresql://h/sys") == "postgresql://h/app"


def test_urls_and_schema_names() -> None:
    assert driver_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert plain_url(driver_url("postgresql://u@h/db")) == "postgresql://u@h/db"
    with pytest.raises(DBOSConfigError, match="Postgres URL"):
        driver_url("sqlite:///x.sqlite")
    with pytest.raises(DBOSConfigError, match="application_database_url"):
        build_settings({"name": "shop", "application_database_url": "mysql://h/app"})
    assert quote_schema("dbos") == '"dbos"'
    with pytest.raises(DBOSWorkersError, match="plain identifier"):
        quote_schema('x"; DROP TABLE y; --')


def test_bad_options_fail_at_decoration() -> None:
    ds = SQLAlchemyDatasource("postgresql://h/app")

    async def coro() -> None: ...

    with pytest.raises(DBOSWorkersError, match="coroutine"):
        ds.transaction(coro)
    with pytest.raises(DBOSConfigError, match="isolation_level"):
        ds.transaction(isolation_level="CHAOS")(lambda: 1)  # type: ignore[arg-type]
    from sqlalchemy.orm import sessionmaker

    with pytest.raises(DBOSConfigError, match="binds="):
        SQLAlchemyDatasource("postgresql://h/app", sessionmaker=sessionmaker(binds={object: None}))

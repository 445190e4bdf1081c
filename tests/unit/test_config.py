"""Config validation: typed errors that say what to do, warnings for unknown keys."""

from __future__ import annotations

import pytest

from dbos_workers import DBOS, DBOSConfigError
from dbos_workers.config import build_settings


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({}, "'name' is required"),
        ({"name": "Bad Name!"}, "'name' is required"),
        ({"name": "app", "worker_processes": -1}, "worker_processes"),
        ({"name": "app", "worker_processes": "2"}, "must be an integer"),
        ({"name": "app", "sys_db_pool_size": 1}, "sys_db_pool_size"),
        ({"name": "app", "log_level": "LOUD"}, "log_level"),
        ({"name": "app", "system_database_url": "mysql://x/y"}, "Postgres URL"),
        ({"name": "app", "system_database_url": "postgresql://host:5432"}, "name a database"),
        ({"name": "app", "dbos_system_schema": "bad;schema"}, "plain identifier"),
        ({"name": "app", "executor_id": "a/b"}, "executor_id"),
        ({"name": "app", "serializer": "xml"}, "serializer"),
        ({"name": "app", "executor_lease_sec": 0}, "executor_lease_sec"),
        ({"name": "app", "worker_cpu_affinity": "yes"}, "worker_cpu_affinity"),
        ({"name": "app", "worker_cpu_affinity": 1}, "worker_cpu_affinity"),
    ],
)
def test_bad_config_raises_typed_error(config: dict[str, object], match: str) -> None:
    with pytest.raises(DBOSConfigError, match=match):
        build_settings(config)


def test_bad_config_fails_at_construction() -> None:
    with pytest.raises(DBOSConfigError):
        DBOS(config={"name": "x"})  # too short
    assert DBOS._instance is None


def test_unknown_and_unsupported_keys_warn_once() -> None:
    with pytest.warns(UserWarning) as record:
        build_settings({"name": "app", "conductor_key": "k", "worker_procesess": 2})
    assert len(record) == 1
    text = str(record[0].message)
    assert "conductor_key" in text and "worker_procesess" in text


def test_defaults_and_url_normalization() -> None:
    s = build_settings({"name": "app", "system_database_url": "postgresql+psycopg://u:p@h:5432/db"})
    assert s.database_url == "postgresql://u:p@h:5432/db"
    assert s.schema == "dbos_workers" and s.worker_processes >= 1 and s.worker_cpu_affinity is None  # auto
    assert s.executor_id and "/" not in s.executor_id


def test_executor_id_from_vmid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBOS__VMID", "vm-7")
    assert build_settings({"name": "app"}).executor_id == "vm-7"

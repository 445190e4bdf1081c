"""Fixtures for acceptance tests: subprocess apps on the test database, cleaned up after."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.acceptance.apps.harness import AppProcess, base_env, pid_alive, start_process
from tests.helpers import wait_until


@pytest.fixture
def app_env(pg_url: str, schema: str, tmp_path: Path) -> dict[str, str]:
    """Environment for subprocess apps: this test's database, schema, executor id, side log."""
    return base_env(ACC_DB_URL=pg_url, ACC_SCHEMA=schema, ACC_EXECUTOR_ID=f"acc-{schema}",
                    ACC_SIDELOG=str(tmp_path / "sidelog.jsonl"),
                    ACC_RELEASE=str(tmp_path / "release"))


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., AppProcess]]:
    """spawn(argv, env, cwd, new_session) -> AppProcess; kills what is left at teardown."""
    started: list[AppProcess] = []

    def _spawn(argv: list[str], env: dict[str, str], cwd: Path | None = None,
               new_session: bool = False) -> AppProcess:
        proc = start_process(argv, env, cwd or tmp_path, tmp_path, new_session)
        started.append(proc)
        return proc

    yield _spawn
    for proc in started:
        proc.cleanup()


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A world-traversable temp dir (the embedded Postgres runs as another user under root)."""
    path = Path(tempfile.mkdtemp(prefix="dbos-workers-acc-"))
    path.chmod(0o755)
    yield path
    postmaster = path / ".dbos" / "pgdata" / "postmaster.pid"
    if postmaster.exists():  # an embedded server its app did not stop (the app was killed)
        pid = int(postmaster.read_text().split()[0])
        if pid_alive(pid):
            os.kill(pid, signal.SIGINT)  # Postgres "fast" shutdown
            wait_until(lambda: not pid_alive(pid), 10)
    shutil.rmtree(path, ignore_errors=True)

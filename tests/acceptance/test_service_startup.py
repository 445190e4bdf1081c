"""`dbos-workers start` and `migrate` facing bad input: an unreachable database is retried
with one line per attempt, then exit 1 (or the service starts once it answers, or exits 0 when
told to stop while waiting); an unknown app is one line and exit 2; `migrate` takes its URL
from DBOS_SYSTEM_DATABASE_URL."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from dbos_workers.db.queries import migration_files
from tests.acceptance.apps.harness import APPS_DIR, REPO_ROOT, AppProcess, base_env, cli_command
from tests.chaos.proxy import ChaosProxy
from tests.helpers import query

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

Spawn = Callable[..., AppProcess]
APP = str(APPS_DIR / "service_app.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dead_url(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/dbw_unreachable"


def test_unreachable_database_is_retried_one_line_per_attempt_then_exit_1(
        spawn: Spawn, app_env: dict[str, str]) -> None:
    argv = [*cli_command(), "start", APP, "--url", dead_url(free_port()), "--db-wait", "4"]
    began = time.monotonic()
    service = spawn(argv, app_env, REPO_ROOT)
    assert service.wait(60) == 1, service.stderr()[-3000:]
    assert time.monotonic() - began >= 4
    attempts = service.log_events("database_unreachable")
    assert len(attempts) >= 2 and [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
    assert all(a["level"] == "warning" and "dbw_unreachable" in a["database"] for a in attempts)
    exhausted = service.wait_event("database_wait_exhausted")
    assert exhausted["level"] == "error" and exhausted["attempts"] == len(attempts) + 1
    assert "Traceback" not in service.stderr()
    assert not service.log_events("service_ready")


def test_the_service_starts_once_the_database_answers(
        spawn: Spawn, app_env: dict[str, str], pg_url: str) -> None:
    port = free_port()
    parts = urlsplit(pg_url)
    url = f"postgresql://{parts.username or 'postgres'}@127.0.0.1:{port}{parts.path}"
    service = spawn([*cli_command(), "start", APP, "--url", url, "--workers", "1"],
                    app_env, REPO_ROOT)
    service.wait_event("database_unreachable", 30)
    proxy = ChaosProxy((parts.hostname or "127.0.0.1", parts.port or 5432), port=port)
    try:
        service.wait_event("service_ready", 60)
        assert service.wait_event("database_reachable")["attempts"] >= 2
        service.signal(signal.SIGTERM)
        assert service.wait(30) == 0, service.stderr()[-3000:]
    finally:
        proxy.close()


def test_sigterm_while_waiting_for_the_database_exits_0(
        spawn: Spawn, app_env: dict[str, str]) -> None:
    service = spawn([*cli_command(), "start", APP, "--url", dead_url(free_port())],
                    app_env, REPO_ROOT)
    service.wait_event("database_unreachable", 30)
    service.signal(signal.SIGTERM)
    assert service.wait(20) == 0, service.stderr()[-3000:]
    assert not service.log_events("service_ready")


@pytest.mark.parametrize("target", ["no_such_app_module", "examples.app.nope", "missing/app.py"])
def test_an_unknown_app_is_one_line_and_exit_2(target: str) -> None:
    done = subprocess.run([*cli_command(), "start", target], cwd=REPO_ROOT, env=base_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dbos-workers: "), done.stderr
    assert target.split("/")[0].split(".")[0] in lines[0]


def test_migrate_reads_the_url_from_the_environment(pg_url: str, schema: str) -> None:
    env = base_env(DBOS_SYSTEM_DATABASE_URL=pg_url)
    done = subprocess.run([*cli_command(), "migrate", "--schema", schema], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    versions = [r["version"] for r in query(pg_url, schema, "SELECT version FROM migrations "
                                                             "ORDER BY version")]
    assert versions == [v for v, _, _ in migration_files()]
    missing = subprocess.run([*cli_command(), "migrate"], cwd=REPO_ROOT, env=base_env(),
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "DBOS_SYSTEM_DATABASE_URL" in missing.stderr


def test_a_taken_probe_port_is_one_line_and_exit_2(app_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([*cli_command(), "start", APP, "--probe-port", str(port)],
                              cwd=REPO_ROOT, env=app_env, capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"probe port 127.0.0.1:{port}" in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr and "dbos_launched" not in done.stderr


def test_a_pool_of_zero_workers_is_refused(app_env: dict[str, str]) -> None:
    env = {**app_env, "ACC_WORKER_PROCESSES": "0"}
    done = subprocess.run([*cli_command(), "start", APP], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "worker_processes is 0" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1

"""`dbos-workers start` as a real service: readiness, work from another process, SIGTERM
drain with exit 0 and no child left (also when the whole process group gets the SIGTERM);
the Procfile's worker command as written; the console script when installed.

The services run as `python -m dbos_workers.cli` unless the `dbos-workers` console script is
installed next to this interpreter (then that script)."""

from __future__ import annotations

import importlib.metadata
import os
import shlex
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dbos_workers import DBOS
from dbos_workers.db.repository import mask_url
from tests.acceptance.apps import sidelog
from tests.acceptance.apps.harness import (
    APPS_DIR,
    REPO_ROOT,
    AppProcess,
    base_env,
    cli_command,
    load_module,
    pid_alive,
    use_env,
)
from tests.helpers import wait_until

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

Spawn = Callable[..., AppProcess]


def service_pids(service: AppProcess, workers: int) -> tuple[int, list[int]]:
    """(supervisor pid, worker pids) from the service's log, once every worker is spawned."""
    spawned = wait_until(lambda: (found := service.log_events("worker_spawned"))
                         and len(found) == workers and found, 10)
    supervisor = service.wait_event("supervisor_started")["supervisor_pid"]
    return int(supervisor), sorted(int(e["pid"]) for e in spawned)


def stop_service(service: AppProcess, children: list[int]) -> float:
    """SIGTERM: the service drains and exits 0, leaving no process; returns the seconds taken."""
    began = time.monotonic()
    service.signal(signal.SIGTERM)
    code = service.wait(15)
    elapsed = time.monotonic() - began
    assert code == 0, service.stderr()[-3000:]
    assert elapsed < 5, elapsed
    assert service.log_events("service_stopped")
    assert not [pid for pid in children if pid_alive(pid)]
    return elapsed


def test_start_serves_work_and_drains_on_sigterm(
        spawn: Spawn, app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    argv = [*cli_command(), "start", str(APPS_DIR / "service_app.py"), "--workers", "2"]
    service = spawn(argv, app_env, REPO_ROOT)
    ready = service.wait_event("service_ready")
    assert ready["workers"] == 2 and ready["pid"] == service.pid
    supervisor, workers = service_pids(service, 2)

    use_env(monkeypatch, {**app_env, "ACC_WORKER_PROCESSES": "0"})
    app = load_module(APPS_DIR / "service_app.py")
    DBOS.launch()
    handles = [app.jobs.enqueue(app.double, x) for x in range(20)]
    results: list[dict[str, int]] = [h.get_result(timeout=30) for h in handles]
    assert [(r["x"], r["double"]) for r in results] == [(x, 2 * x) for x in range(20)]
    assert {r["pid"] for r in results} <= set(workers)
    assert not {r["pid"] for r in results} & {os.getpid(), service.pid, supervisor}

    in_flight = app.jobs.enqueue(app.slow, "drain", 10)  # about 1 s of steps
    wait_until(lambda: sidelog.read(app_env["ACC_SIDELOG"], step="tick"), 10)
    elapsed = stop_service(service, [supervisor, *workers])
    print(f"\ndbos-workers start: SIGTERM to exit with a 1 s workflow in flight {elapsed:.2f}s")
    assert in_flight.get_status().status == "SUCCESS"
    assert not service.log_events("workflows_handed_back")
    assert not [e for e in service.log_events() if e.get("level") in ("error", "critical")]


def procfile_worker_command() -> str:
    entries = dict(line.split(":", 1) for line in (REPO_ROOT / "Procfile").read_text().splitlines()
                   if line.strip() and not line.startswith("#"))
    return entries["worker"].strip()


def procfile_shell(command: str) -> list[str]:
    """The Procfile line as the platform runs it (a shell), with our CLI for `dbos-workers`."""
    assert command.startswith("dbos-workers ")
    return ["sh", "-c", "exec " + shlex.join(cli_command()) + command[len("dbos-workers"):]]


def test_procfile_worker_command_processes_an_order(
        spawn: Spawn, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    command = procfile_worker_command()
    assert shlex.split(command)[:3] == ["dbos-workers", "start", "examples.app"]
    assert "--drain-timeout" not in command  # the default fits a 30 s platform deadline
    refused = subprocess.run(procfile_shell(command), env=base_env(), cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and "DATABASE_URL" in refused.stderr  # no private database
    env = base_env(DATABASE_URL=pg_url)  # what Heroku Postgres sets
    service = spawn(procfile_shell(command), env, REPO_ROOT)
    assert service.wait_event("dbos_launched")["database"] == mask_url(pg_url)
    service.wait_event("service_ready")
    supervisor, workers = service_pids(service, int(env.get("WORKER_PROCESSES", "2")))

    use_env(monkeypatch, {"DBOS_SYSTEM_DATABASE_URL": pg_url, "WORKER_PROCESSES": "0"})
    app = load_module(REPO_ROOT / "examples" / "app.py")
    DBOS.launch()
    handle = app.orders.enqueue(app.process_order, 4242)
    result: dict[str, Any] = handle.get_result(timeout=30)
    assert result["order"] == 4242
    assert (result["reservation"], result["payment"]) == ("reserved-4242", "charged-4242")
    assert result["pid"] in workers
    assert DBOS.get_event(handle.workflow_id, "stage", timeout_seconds=5) == "done"
    stop_service(service, [supervisor, *workers])


def test_console_script_is_declared_and_used_when_installed() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["dbos-workers"] == "dbos_workers.cli:main"
    script = Path(sys.executable).parent / "dbos-workers"
    # Installed (or editable) into this interpreter: its metadata is under sys.prefix (a stray
    # egg-info in the checkout, found first through sys.path, does not count).
    prefix = Path(sys.prefix).resolve()
    installed = any(Path(str(d.locate_file(""))).resolve().is_relative_to(prefix)
                    for d in importlib.metadata.distributions(name="dbos-workers"))
    if installed:
        assert script.is_file(), f"dbos-workers is installed but {script} is missing"
        assert cli_command() == [str(script)]
    else:
        assert cli_command() == [sys.executable, "-m", "dbos_workers.cli"]


def test_sigterm_to_the_whole_process_group_still_drains(
        spawn: Spawn, app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """systemd (KillMode=control-group), Heroku and Ctrl-C signal every process of the service
    at once: the CLI, the supervisor and each worker get the same SIGTERM. That is still one
    drain with the service's --drain-timeout, not a hard stop that hands work back."""
    log = Path(app_env["ACC_SIDELOG"])
    argv = [*cli_command(), "start", str(APPS_DIR / "service_app.py"), "--workers", "2",
            "--drain-timeout", "20"]
    service = spawn(argv, app_env, REPO_ROOT, new_session=True)
    service.wait_event("service_ready")
    supervisor, workers = service_pids(service, 2)

    use_env(monkeypatch, {**app_env, "ACC_WORKER_PROCESSES": "0"})
    app = load_module(APPS_DIR / "service_app.py")
    DBOS.launch()
    handle = app.jobs.enqueue(app.slow, "group", 15)  # about 1.5 s of steps
    wait_until(lambda: sidelog.read(log, step="tick"), 15)

    os.killpg(service.pid, signal.SIGTERM)
    assert service.wait(15) == 0, service.stderr()[-3000:]
    assert not service.log_events("supervisor_stopping"), "a single SIGTERM became a hard stop"
    assert not service.log_events("workflows_handed_back")
    assert handle.get_status().status == "SUCCESS"
    assert handle.get_result(timeout=1) == sum(range(15))
    assert sorted(r["k"] for r in sidelog.read(log, step="tick")) == list(range(15))
    assert not [pid for pid in [supervisor, *workers] if pid_alive(pid)]

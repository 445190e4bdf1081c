"""`dbos-workers start`: the main pid owns the platform's signal contract. Each signal is sent
to the main pid and, where a platform does it, to the whole process group (the supervisor and
its workers live in their own group, so the group's signal reaches the main process only and
is forwarded once). Asserted on real processes: exit codes, the supervisor's log, the rows.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dbos_workers import DBOS
from tests.acceptance.apps import sidelog
from tests.acceptance.apps.harness import (
    APPS_DIR,
    REPO_ROOT,
    AppProcess,
    cli_command,
    load_module,
    pid_alive,
    use_env,
)
from tests.helpers import query, wait_until

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

Spawn = Callable[..., AppProcess]
APP = str(APPS_DIR / "service_app.py")


def start(spawn: Spawn, env: dict[str, str], *extra: str, workers: int = 2) -> AppProcess:
    argv = [*cli_command(), "start", APP, "--workers", str(workers), *extra]
    service = spawn(argv, env, REPO_ROOT, new_session=True)
    service.wait_event("service_ready")
    wait_until(lambda: len(service.log_events("worker_spawned")) >= workers, 20)
    return service


def send(service: AppProcess, sig: signal.Signals, target: str) -> None:
    if target == "group":
        os.killpg(service.pid, sig)
    else:
        service.signal(sig)


def client(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Any:
    use_env(monkeypatch, {**env, "ACC_WORKER_PROCESSES": "0"})
    app = load_module(APPS_DIR / "service_app.py")
    DBOS.launch()
    return app


def rows(env: dict[str, str], ids: list[str]) -> dict[str, dict[str, Any]]:
    found = query(env["ACC_DB_URL"], env["ACC_SCHEMA"],
                  "SELECT workflow_uuid, status, recovery_attempts FROM workflow_status "
                  "WHERE workflow_uuid = ANY(%s)", ids)
    return {r["workflow_uuid"]: r for r in found}


def no_errors(service: AppProcess) -> list[dict[str, Any]]:
    return [e for e in service.log_events() if e.get("level") in ("error", "critical")]


def stop_clean(service: AppProcess) -> None:
    service.signal(signal.SIGTERM)
    assert service.wait(30) == 0, service.stderr()[-3000:]
    assert not [p for p in service.descendant_pids() if pid_alive(p)]


@pytest.mark.parametrize("target", ["main", "group"])
def test_sighup_restarts_every_worker_without_losing_or_burning_a_workflow(
        spawn: Spawn, app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        target: str) -> None:
    service = start(spawn, app_env)
    old = {int(e["pid"]) for e in service.log_events("worker_spawned")}
    app = client(monkeypatch, app_env)
    baseline = app.jobs.enqueue(app.double, 1)
    baseline.get_result(timeout=30)
    handles = [app.jobs.enqueue(app.slow, f"hup{k}", 15) for k in range(6)]  # ~1.5 s each
    wait_until(lambda: len({r["key"] for r in sidelog.read(app_env["ACC_SIDELOG"], step="tick")})
               == 6, 30)

    send(service, signal.SIGHUP, target)
    service.wait_event("supervisor_reloaded", 60)
    assert [h.get_result(timeout=60) for h in handles] == [sum(range(15))] * 6
    found = rows(app_env, [baseline.workflow_id, *(h.workflow_id for h in handles)])
    attempts = {r["recovery_attempts"] for r in found.values()}
    assert attempts == {found[baseline.workflow_id]["recovery_attempts"]}, found
    assert {r["status"] for r in found.values()} == {"SUCCESS"}
    respawned = {int(e["pid"]) for e in service.log_events("worker_respawned")}
    assert len(respawned) == 2 and not respawned & old
    assert not [p for p in old if pid_alive(p)]
    assert len(service.log_events("supervisor_reloading")) == 1  # the group's HUP: once
    exits = service.log_events("worker_exited")
    assert [e.get("exit_code") for e in exits] == [0, 0], exits  # drained, not killed
    assert service.log_events("service_signal")[0]["signal"] == "SIGHUP"
    assert not no_errors(service)
    stop_clean(service)


@pytest.mark.parametrize("target", ["main", "group"])
def test_sigttin_and_sigttou_scale_by_one_worker(
        spawn: Spawn, app_env: dict[str, str], target: str) -> None:
    service = start(spawn, app_env)
    send(service, signal.SIGTTIN, target)
    wait_until(lambda: len(service.log_events("worker_spawned")) == 3, 20)
    assert [e["workers"] for e in service.log_events("supervisor_scaled_up")] == [3]
    send(service, signal.SIGTTOU, target)
    stopped = service.wait_event("worker_stopping", 20)
    assert stopped["reason"] == "scale_down" and stopped["slot"] == 2
    wait_until(lambda: service.log_events("worker_exited"), 20)
    assert [e["workers"] for e in service.log_events("supervisor_scaled_down")] == [2]
    assert service.popen.poll() is None
    assert not no_errors(service)
    stop_clean(service)


@pytest.mark.parametrize(("signals", "target"), [
    ((signal.SIGTERM, signal.SIGTERM), "main"),
    ((signal.SIGINT, signal.SIGINT), "group"),
    ((signal.SIGQUIT,), "main"),
    ((signal.SIGQUIT,), "group"),
])
def test_hard_stop_hands_back_and_the_next_service_finishes_the_workflow(
        spawn: Spawn, app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        signals: tuple[signal.Signals, ...], target: str) -> None:
    service = start(spawn, app_env, "--drain-timeout", "60")
    app = client(monkeypatch, app_env)
    baseline = app.jobs.enqueue(app.double, 2)
    baseline.get_result(timeout=30)
    normal = rows(app_env, [baseline.workflow_id])[baseline.workflow_id]["recovery_attempts"]
    handle = app.jobs.enqueue(app.held, "hard")
    wait_until(lambda: sidelog.read(app_env["ACC_SIDELOG"], step="hold"), 30)

    for k, sig in enumerate(signals):
        send(service, sig, target)
        if k == 0 and len(signals) > 1:
            service.wait_event("worker_draining", 20)
    assert service.wait(20) == 0, service.stderr()[-3000:]
    reason = service.wait_event("service_stopping")["reason"]
    assert reason == (f"second {signals[0].name}" if len(signals) > 1 else "SIGQUIT")
    assert not [p for p in service.descendant_pids() if pid_alive(p)]
    row = rows(app_env, [handle.workflow_id])[handle.workflow_id]
    assert row["status"] == "ENQUEUED" and row["recovery_attempts"] < normal, row  # refunded
    assert not no_errors(service)

    Path(app_env["ACC_RELEASE"]).touch()
    again = start(spawn, app_env)
    assert handle.get_result(timeout=60) == ["prepared-hard", "released-hard"]
    assert rows(app_env, [handle.workflow_id])[handle.workflow_id]["recovery_attempts"] == normal
    stop_clean(again)


def test_sigterm_to_the_supervisor_alone_ends_the_service_with_exit_0(
        spawn: Spawn, app_env: dict[str, str]) -> None:
    service = start(spawn, app_env)
    supervisor = int(service.wait_event("supervisor_started")["supervisor_pid"])
    os.kill(supervisor, signal.SIGTERM)
    assert service.wait(30) == 0, service.stderr()[-3000:]
    exited = service.wait_event("supervisor_exited")
    assert exited["level"] == "info" and exited["exit_code"] == 0
    assert not no_errors(service)
    assert not [p for p in service.descendant_pids() if pid_alive(p)]


def test_a_killed_supervisor_is_a_failure_with_its_reason_logged(
        spawn: Spawn, app_env: dict[str, str]) -> None:
    service = start(spawn, app_env)
    supervisor = int(service.wait_event("supervisor_started")["supervisor_pid"])
    os.kill(supervisor, signal.SIGKILL)
    assert service.wait(60) == 1, service.stderr()[-3000:]
    exited = service.wait_event("supervisor_exited")
    assert exited["level"] == "error" and exited["reason"] == "killed by SIGKILL"
    wait_until(lambda: not [p for p in service.descendant_pids() if pid_alive(p)], 30)

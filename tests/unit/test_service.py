"""The service's pieces without a database: the command line's bounds and help, systemd's
notify protocol over a real datagram socket, the repeat limiter, workflow context on log
lines, the health report and exit reasons."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog

from dbos_workers import cli
from dbos_workers import logging as dbw_logging
from dbos_workers.context import StepContext, WorkflowContext, enter_step, enter_workflow, exit_step, exit_workflow
from dbos_workers.db.health import DatabaseProbe
from dbos_workers.service.health import HealthMonitor
from dbos_workers.service.notify import SystemdNotifier
from dbos_workers.service.runner import describe_exit
from dbos_workers.service.startup import warn_if_embedded


@pytest.mark.parametrize("argv", [
    ["start", "app", "--workers", "-1"], ["start", "app", "--workers", "0"],
    ["start", "app", "--workers", "many"], ["start", "app", "--drain-timeout", "-5"],
    ["start", "app", "--db-wait", "-1"], ["start", "app", "--probe-port", "70000"],
    ["start", "app", "--probe-port", "0"], ["health", "--timeout", "0"], ["frobnicate"],
])
def test_the_parser_rejects_bad_numbers_and_unknown_commands(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(argv)
    assert exc.value.code == 2


def test_the_parser_accepts_good_values_and_keeps_its_subparsers() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["start", "app", "--workers", "3", "--drain-timeout", "0",
                              "--db-wait", "5", "--probe-port", "8081"])
    assert (args.workers, args.drain_timeout, args.db_wait, args.probe_port) == (3, 0.0, 5.0, 8081)
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(subs) == 1 and set(subs[0].choices) == {"start", "migrate", "health", "workflow", "queue", "dashboard",
                                                          "reset"}


def test_help_says_what_sighup_does_and_promises_no_missing_command() -> None:
    text = cli.build_parser().format_help()
    start_help = cli.build_parser()._subparsers._group_actions[0].choices["start"].format_help()  # type: ignore[union-attr]
    commands = set(cli.build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for word in ("reset", "workflow", "queue", "health", "migrate"):  # named only if it exists
        assert word not in text.lower() or word in commands
    assert "SIGHUP restarts the workers" in text and "code already loaded" in text
    assert "DBOS_SYSTEM_DATABASE_URL" in start_help


def test_health_without_a_port_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(cli.PROBE_PORT_ENV, raising=False)
    assert cli.main(["health"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    folder = Path(tempfile.mkdtemp(prefix="dbw-n-"))
    path = str(folder / "s")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()
    os.unlink(path)
    folder.rmdir()


def received(sock: socket.socket) -> list[str]:
    out = []
    sock.settimeout(0.05)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except TimeoutError:
        return out


def test_notifier_speaks_the_protocol_and_paces_the_watchdog(
        notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    n = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
    assert n.enabled and n.watchdog_sec == 2.0
    n.ready("workers 2")
    n.ready("again")  # once
    n.status("workers 2")  # unchanged: not sent
    n.status("workers 3")
    for now, progressing in [(10.0, True), (10.5, True), (11.0, True), (12.5, False), (13.0, True)]:
        n.watchdog(progressing, now=now)
    n.stopping("draining")
    got = received(sock)
    assert got[0] == f"READY=1\nSTATUS=workers 2\nMAINPID={os.getpid()}"
    assert got[1:] == ["STATUS=workers 3", "WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1",
                       "STOPPING=1\nSTATUS=draining"]
    n.close()


def test_notifier_is_silent_without_a_socket_or_for_another_pid(
        notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    assert not SystemdNotifier({}).enabled and not SystemdNotifier({}).send(READY="1")
    other = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"})
    assert other.watchdog_sec is None
    other.watchdog(True, now=5.0)
    assert received(sock) == []
    assert SystemdNotifier({"NOTIFY_SOCKET": "@abstract"}).address == "\0abstract"


def test_repeat_limiter_passes_the_first_then_one_per_window_with_a_count() -> None:
    now = [0.0]
    limiter = dbw_logging.RepeatLimiter(10.0, clock=lambda: now[0])
    key = ("psycopg.pool", "error connecting in %r: %s")
    seen = []
    for t in [0, 1, 2, 3, 10.5, 11, 25]:
        now[0] = t
        seen.append(limiter.admit(key))
    assert seen == [0, None, None, None, 3, None, 1]
    assert limiter.admit(("other", "x")) == 0


def test_log_lines_inside_a_step_carry_the_workflow_and_the_step() -> None:
    ctx = WorkflowContext(workflow_id="wf-1", owner_token="t", name="wf", recorded={})
    token = enter_workflow(ctx)
    step = enter_step(StepContext(3, name="mod.say"))
    try:
        inside = dbw_logging.add_workflow_context(None, "info", {"event": "x"})
    finally:
        exit_step(step)
        exit_workflow(token)
    assert inside == {"event": "x", "workflow_id": "wf-1", "step_id": 3, "step_name": "mod.say"}
    assert dbw_logging.add_workflow_context(None, "info", {"event": "y"}) == {"event": "y"}


def test_stdlib_records_become_json_with_workflow_context(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, dbw_logging.add_workflow_context,
                           structlog.processors.add_log_level],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer()])
    handler.setFormatter(formatter)
    logger = logging.getLogger("dbos.test_service")
    logger.addHandler(handler)
    token = enter_workflow(WorkflowContext(workflow_id="wf-2", owner_token="t", name="w", recorded={}))
    try:
        logger.warning("hello %s", "there")
    finally:
        exit_workflow(token)
        logger.removeHandler(handler)
    line = json.loads(out.getvalue())
    assert line == {"event": "hello there", "logger": "dbos.test_service", "level": "warning",
                    "workflow_id": "wf-2"}


def test_start_without_a_url_warns_that_the_database_is_private() -> None:
    instance = SimpleNamespace(lifecycle=SimpleNamespace(settings=SimpleNamespace(
        database_url=None, embedded_data_dir=Path("/x/.dbos"))))
    with structlog.testing.capture_logs() as logs:
        warn_if_embedded(instance)
    assert logs[0]["event"] == "database_embedded" and logs[0]["log_level"] == "warning"
    assert "private to this host" in logs[0]["hint"]


class FakeSupervisor:
    def __init__(self, beats: dict[int, float], alive: bool = True, loop: float = 0.0) -> None:
        self.beats, self.alive, self.loop = beats, alive, loop

    def loop_beat(self) -> float:
        return self.loop or max(self.beats.values())

    def worker_beats(self) -> dict[int, float]:
        return self.beats

    def is_alive(self) -> bool:
        return self.alive


def monitor_at(now: list[float], probe: DatabaseProbe | None, db_ok_at: float | None,
               supervisor: Any) -> HealthMonitor:
    m = HealthMonitor("postgresql://x/y", "s", "e", heartbeat_timeout_sec=60, clock=lambda: now[0])
    m.supervisor = supervisor
    m._probe, m._db_ok_at = probe, db_ok_at
    return m


def test_health_report_live_and_ready() -> None:
    now = [100.0]
    good = DatabaseProbe(14, 14, 2, "e/0")
    m = monitor_at(now, good, 99.0, FakeSupervisor({11: 99.5, 12: 99.0}))
    report = m.report()
    assert report.live and report.ready and report.checks["workers_beating"] == 2
    assert report.summary() == "workers 2, in flight 2, leader e/0, database up"
    now[0] = 104.0  # the database has not answered for 5 s
    m.loop_beat()
    assert not m.report().live and not m.report().ready
    old_schema = monitor_at(now, DatabaseProbe(3, 14, 0, None), 104.0, FakeSupervisor({11: 103.9}))
    assert old_schema.report().live and not old_schema.report().ready
    no_beat = monitor_at(now, good, 104.0, FakeSupervisor({11: 0.0}, loop=103.9))
    assert no_beat.report().live and not no_beat.report().ready
    stale = monitor_at(now, good, 104.0, FakeSupervisor({11: 103.0, 12: 20.0}))
    assert not stale.report().live and stale.report().checks["workers_stale"] == [12]
    gone = monitor_at(now, good, 104.0, FakeSupervisor({11: 103.9}, alive=False))
    assert not gone.report().live
    stuck = monitor_at(now, good, 104.0, FakeSupervisor({11: 103.9}, loop=95.0))
    assert not stuck.report().live and not stuck.report().checks["supervisor"]


def test_exit_reasons_name_the_signal() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert "boot" in describe_exit(3)
    assert describe_exit(7) == "exit code 7"

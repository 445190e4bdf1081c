"""The deploy examples agree with the service: the systemd unit, the Kubernetes Deployment
and the Procfile name real commands and flags, and their timeouts hold a drain started by the
defaults (drain_timeout_sec + the grace before workers are killed)."""

from __future__ import annotations

import configparser
import json
import re
import shlex
from pathlib import Path

import pytest

from dbos_workers import cli
from dbos_workers.config import build_settings
from dbos_workers.lifecycle import DRAIN_GRACE_SEC

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_DEADLINE_SEC = 30.0  # Kubernetes' default grace period, Heroku's SIGTERM -> SIGKILL
SHUTDOWN_MARGIN_SEC = 3.0  # closing pools after the supervisor is gone


def drain_of(argv: list[str]) -> float:
    args = cli.build_parser().parse_args(argv)
    assert args.command == "start" and args.func is cli.cmd_start
    default = build_settings({"name": "deploy-check"}).drain_timeout_sec
    return float(default if args.drain_timeout is None else args.drain_timeout)


def test_defaults_drain_inside_a_30_second_platform_deadline() -> None:
    settings = build_settings({"name": "deploy-check"})
    assert settings.drain_timeout_sec + DRAIN_GRACE_SEC + SHUTDOWN_MARGIN_SEC <= PLATFORM_DEADLINE_SEC
    assert settings.database_wait_sec == 60.0 and settings.probe_port is None
    assert settings.probe_host == "127.0.0.1"


def unit() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "deploy" / "systemd" / "dbos-workers.service")
    return parser["Service"]


def test_systemd_unit_is_type_notify_and_its_stop_timeout_holds_the_drain() -> None:
    service = unit()
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert service["KillMode"] == "mixed" and service["KillSignal"] == "SIGTERM"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/dbos-workers")
    drain = drain_of(argv[1:])
    assert float(service["TimeoutStopSec"]) >= drain + DRAIN_GRACE_SEC + SHUTDOWN_MARGIN_SEC
    start_wait = build_settings({"name": "deploy-check"}).database_wait_sec
    assert float(service["TimeoutStartSec"]) > start_wait
    assert float(service["WatchdogSec"]) > 0 and service["Restart"] == "on-failure"
    assert "--probe-port" in argv


def kubernetes() -> str:
    return (ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text()


def yaml_int(text: str, key: str) -> int:
    found = re.findall(rf"^\s*{key}:\s*(\d+)\s*$", text, re.MULTILINE)
    assert len(found) == 1, (key, found)
    return int(found[0])


def test_kubernetes_grace_period_holds_the_drain_and_probes_use_the_probe_port() -> None:
    text = kubernetes()
    command = json.loads(re.search(r"^\s*command:\s*(\[.*\])\s*$", text, re.MULTILINE)[1])  # type: ignore[index]
    assert command[0] == "dbos-workers"
    args = cli.build_parser().parse_args(command[1:])
    drain = drain_of(command[1:])
    grace = yaml_int(text, "terminationGracePeriodSeconds")
    assert drain + DRAIN_GRACE_SEC + SHUTDOWN_MARGIN_SEC <= grace <= PLATFORM_DEADLINE_SEC
    assert yaml_int(text, "containerPort") == args.probe_port
    assert args.probe_host == "0.0.0.0"  # the kubelet connects to the pod's address
    paths = re.findall(r"(\w+Probe):\s*\n\s*httpGet:\s*\n\s*path:\s*(\S+)\s*\n\s*port:\s*(\S+)", text)
    assert sorted(paths) == [("livenessProbe", "/healthz", "probes"),
                             ("readinessProbe", "/readyz", "probes"),
                             ("startupProbe", "/readyz", "probes")]
    assert "name: probes" in text and "DBOS_SYSTEM_DATABASE_URL" in text


@pytest.mark.parametrize("line", [ln for ln in (ROOT / "Procfile").read_text().splitlines()
                                  if ln.strip() and not ln.startswith("#")])
def test_procfile_lines_are_valid_commands_that_fit_the_deadline(line: str) -> None:
    _, command = line.split(":", 1)
    argv = shlex.split(command)
    assert argv[0] == "dbos-workers"
    assert "$DATABASE_URL" in command or "${DATABASE_URL" in command
    assert drain_of(argv[1:]) + DRAIN_GRACE_SEC + SHUTDOWN_MARGIN_SEC <= PLATFORM_DEADLINE_SEC

"""Test-side helpers: start app processes, read their JSON logs, check pids, load an app
module in the test process, and measure overlap of recorded run intervals."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.helpers import wait_until

REPO_ROOT = Path(__file__).resolve().parents[3]
APPS_DIR = Path(__file__).resolve().parent


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs; a zombie (exited, not yet reaped) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def cli_command() -> list[str]:
    """The `dbos-workers` console script next to this interpreter when installed, else
    ``python -m dbos_workers.cli`` (same entry point)."""
    script = Path(sys.executable).parent / "dbos-workers"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "dbos_workers.cli"]


def base_env(**extra: str) -> dict[str, str]:
    """This environment without a system database URL, the checkout importable, plus extra."""
    env = {k: v for k, v in os.environ.items() if k != "DBOS_SYSTEM_DATABASE_URL"}
    path = [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    env.update(PYTHONPATH=os.pathsep.join(path), PYTHONUNBUFFERED="1", **extra)
    return env


@dataclass
class AppProcess:
    """A started subprocess whose stdout and stderr go to files (no pipe can fill up)."""

    popen: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    extra_pids: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def log_events(self, event: str | None = None) -> list[dict[str, Any]]:
        """JSON log lines (structlog writes them to stderr when it is not a TTY)."""
        found = []
        for line in self.stderr().splitlines():
            if not line.startswith("{") or not line.endswith("}"):
                continue
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if event is None or entry.get("event") == event:
                    found.append(entry)
        return found

    def wait_event(self, event: str, timeout: float = 20.0) -> dict[str, Any]:
        def seen() -> dict[str, Any] | None:
            if self.popen.poll() is not None and not self.log_events(event):
                raise AssertionError(f"process exited ({self.popen.returncode}) before {event!r}:\n"
                                     f"{self.stderr()[-3000:]}")
            found = self.log_events(event)
            return found[0] if found else None

        result: dict[str, Any] = wait_until(seen, timeout)
        return result

    def descendant_pids(self) -> set[int]:
        """Supervisor and worker pids named in the logs (plus any registered by hand)."""
        pids = set(self.extra_pids)
        for entry in self.log_events():
            if entry.get("event") in ("supervisor_started", "worker_spawned", "worker_respawned"):
                pids.add(int(entry.get("pid") or entry["supervisor_pid"]))
        return pids

    def signal(self, sig: signal.Signals) -> None:
        self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def cleanup(self) -> None:
        """Kill what is left of this process tree (only pids this test started)."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
        for pid in self.descendant_pids():
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def start_process(argv: list[str], env: dict[str, str], cwd: Path, log_dir: Path,
                  new_session: bool = False) -> AppProcess:
    """Start argv; new_session=True gives it its own process group (for killpg)."""
    tag = uuid.uuid4().hex[:8]
    out, err = log_dir / f"proc-{tag}.out", log_dir / f"proc-{tag}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        popen = subprocess.Popen(argv, env=env, cwd=cwd, stdout=stdout, stderr=stderr,
                                 stdin=subprocess.DEVNULL, start_new_session=new_session)
    return AppProcess(popen, out, err)


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Give this process an app's settings (the ACC_* keys, the example app's
    DBOS_SYSTEM_DATABASE_URL and WORKER_PROCESSES) before load_module runs its config."""
    for key in ("DBOS_SYSTEM_DATABASE_URL", "WORKER_PROCESSES"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        if key.startswith("ACC_") or key in ("DBOS_SYSTEM_DATABASE_URL", "WORKER_PROCESSES"):
            monkeypatch.setenv(key, value)


def load_module(path: Path) -> ModuleType:
    """Execute an app file in this process under a fresh module name (its decorators run
    again, so it registers with a registry cleared by a previous test)."""
    name = f"acc_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """Largest number of [start, end) intervals that hold at one instant."""
    spans = list(intervals)
    points = sorted([(end, -1) for _, end in spans] + [(start, 1) for start, _ in spans])
    running = peak = 0
    for _, delta in points:  # at equal times the end (-1) sorts before the start (+1)
        running += delta
        peak = max(peak, running)
    return peak

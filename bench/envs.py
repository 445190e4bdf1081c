"""One virtualenv per system under bench/.venvs/<system> (gitignored), made with `python -m venv`
and filled with pip from PyPI, so every system runs with its own, current dependencies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENVS = BENCH / ".venvs"

# What each system's venv installs. psycopg is also what the shared harness monitors with.
REQUIREMENTS: dict[str, list[str]] = {
    "dbos-workers": ["-e", f"{REPO}[metrics]"],
    "dbos": ["dbos"],
    "procrastinate": ["procrastinate"],
    "pgqueuer": ["pgqueuer[asyncpg]", "psycopg[binary]"],
}
DISTRIBUTION = {"dbos-workers": "dbos-workers", "dbos": "dbos", "procrastinate": "procrastinate",
                "pgqueuer": "pgqueuer"}
SYSTEMS = tuple(REQUIREMENTS)
# Tools the driver runs in venvs of their own (never in the project's dependencies).
TOOLS: dict[str, list[str]] = {"chart": ["matplotlib"]}


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure(system: str, *, upgrade: bool = False, log=print) -> Path:
    """The python of the system's venv, creating and installing it when missing."""
    return _ensure(system, REQUIREMENTS[system], upgrade=upgrade, log=log)


def ensure_tool(tool: str, *, log=print) -> Path:
    return _ensure(tool, TOOLS[tool], upgrade=False, log=log)


def _ensure(name: str, requirements: list[str], *, upgrade: bool, log) -> Path:
    venv = VENVS / name
    marker = venv / ".bench-installed"
    wanted = json.dumps(requirements)
    if marker.is_file() and marker.read_text() == wanted and not upgrade:
        return _python(venv)
    log(f"[setup] creating {venv.relative_to(REPO)} and installing {' '.join(requirements)}")
    if not _python(venv).exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    cmd = [str(_python(venv)), "-m", "pip", "install", "-q", *(["-U"] if upgrade else []),
           *requirements]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    marker.write_text(wanted)
    return _python(venv)


def version(python: Path | str, system: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({DISTRIBUTION[system]!r}))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    found = out.stdout.strip() or "?"
    if system == "dbos-workers":  # an editable install: name the commit it runs
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no",
                                "--", "dbos_workers", "supervisor", "sql"],
                               capture_output=True, text=True).stdout.strip()
        found += f"@{rev}{'+dirty' if dirty else ''}" if rev else ""
    return found


def interpreter(system: str, *, inplace: bool, upgrade: bool, log=print) -> Path | str:
    """--inplace runs dbos-workers with the current interpreter (cwd = the repo)."""
    if inplace and system == "dbos-workers":
        return sys.executable
    return ensure(system, upgrade=upgrade, log=log)

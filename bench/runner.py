"""Running one peer bench script in its system's venv and collecting its JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .envs import BENCH, REPO

PEER_SCRIPTS = {
    "dbos-workers": "dbos_workers_bench.py",
    "dbos": "dbos_bench.py",
    "procrastinate": "procrastinate_bench.py",
    "pgqueuer": "pgqueuer_bench.py",
}
# Job queues have no step checkpoints: their "workflow" is one job (kinds 0 and cpu only).
# tx: one transaction on an application database (scenarios/transaction.py).
# async: an async workflow/job awaiting one 100 ms asyncio.sleep (scenarios/asyncio_burndown.py).
KINDS = {"dbos-workers": ("0", "1", "3", "cpu", "tx", "async"), "dbos": ("0", "1", "3", "cpu", "tx"),
         "procrastinate": ("0", "cpu", "async"), "pgqueuer": ("0", "cpu", "async")}
MARK = "BENCH_RESULT "


@dataclass
class Context:
    """What the scenarios need: where each system runs and how to call it."""

    systems: list[str]
    pythons: dict[str, Path | str]
    urls: dict[str, str]
    args: Any
    log_dir: Path
    results: dict[str, Any] = field(default_factory=dict)
    log: Any = print

    def supports(self, system: str, kind: str) -> bool:
        return kind in KINDS[system]

    def run(self, system: str, scenario: str, timeout: float = 600, **params: Any) -> dict[str, Any]:
        return run_peer(self, system, scenario, timeout, params)


def _argv(params: dict[str, Any]) -> list[str]:
    argv: list[str] = []
    for key, value in params.items():
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, list | tuple):
            if key == "option":
                for v in value:
                    argv += [flag, str(v)]
                continue
            value = ",".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in value)
        argv += [flag, str(value)]
    return argv


def run_peer(ctx: Context, system: str, scenario: str, timeout: float,
             params: dict[str, Any]) -> dict[str, Any]:
    script = BENCH / "peers" / PEER_SCRIPTS[system]
    options = list(getattr(ctx.args, "option", None) or [])
    mine = [o.split(":", 1)[1] for o in options if o.startswith(system + ":")]
    cmd = [str(ctx.pythons[system]), str(script), scenario, "--url", ctx.urls[system],
           *_argv({**params, "option": mine})]
    env = {**os.environ, "BENCH_URL": ctx.urls[system], "PYTHONUNBUFFERED": "1"}
    if system == "dbos-workers":
        env["PYTHONPATH"] = str(REPO)  # --inplace: the checkout, not an installed copy
    else:
        env.pop("PYTHONPATH", None)
    tag = f"{system}-{scenario}-" + "-".join(f"{k}{v}" for k, v in params.items()
                                             if k in ("kind", "procs", "n", "mode", "queues", "empty_queues"))
    log_path, again = ctx.log_dir / f"{tag}.log", 1
    while log_path.exists():  # rounds of the same run keep a log each
        again += 1
        log_path = ctx.log_dir / f"{tag}-{again}.log"
    started = time.time()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(REPO), env=env)
        stdout, stderr, code = out.stdout, out.stderr, out.returncode
    except subprocess.TimeoutExpired as exc:
        stdout, stderr, code = _text(exc.stdout), _text(exc.stderr) + "\n[bench] TIMEOUT", -1
    log_path.write_text(f"$ {' '.join(cmd)}\n--- stdout\n{stdout}\n--- stderr\n{stderr}")
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARK):
            result: dict[str, Any] = json.loads(line[len(MARK):])
            result["wall_s"] = round(time.time() - started, 2)
            return result
    tail = (stderr.strip().splitlines() or ["no output"])[-1][:300]
    ctx.log(f"  ! {system} {scenario} failed (exit {code}): {tail} (log: {log_path})")
    return {"error": tail, "exit": code, "log": str(log_path)}


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)

"""Durable core with real processes: SIGKILL of the whole app inside a step, then recovery on
the next launch with the same executor id; and the DBOS seed program on the embedded Postgres.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.acceptance.apps import sidelog
from tests.acceptance.apps.harness import APPS_DIR, REPO_ROOT, AppProcess, base_env, pid_alive
from tests.helpers import query, wait_until

pytestmark = [pytest.mark.acceptance]

Spawn = Callable[..., AppProcess]


def test_sigkill_inside_second_step_resumes_without_rerunning_first(
        spawn: Spawn, app_env: dict[str, str], pg_url: str, schema: str) -> None:
    log = app_env["ACC_SIDELOG"]
    env = {**app_env, "ACC_WORKFLOW_ID": "crash-wf-1"}
    app = [sys.executable, str(APPS_DIR / "crash_app.py")]

    first = spawn(app, {**env, "ACC_PHASE": "crash"}, REPO_ROOT)
    in_step_two = wait_until(lambda: sidelog.read(log, step="two"), 20)
    assert in_step_two[0]["pid"] == first.pid
    first.signal(signal.SIGKILL)
    assert first.wait(5) == -signal.SIGKILL
    row = query(pg_url, schema, "SELECT status, executor_id FROM workflow_status "
                "WHERE workflow_uuid = 'crash-wf-1'")[0]
    assert row == {"status": "PENDING", "executor_id": env["ACC_EXECUTOR_ID"]}

    second = spawn(app, {**env, "ACC_PHASE": "recover"}, REPO_ROOT)
    assert second.wait(30) == 0, second.stderr()[-3000:]
    assert json.loads(second.stdout().strip().splitlines()[-1]) == {"result": ["one-7", "two-7"]}

    one, two = sidelog.read(log, step="one"), sidelog.read(log, step="two")
    assert [(r["phase"], r["pid"]) for r in one] == [("crash", first.pid)]
    assert [(r["phase"], r["pid"]) for r in two] == [("crash", first.pid), ("recover", second.pid)]
    row = query(pg_url, schema, "SELECT status, executor_id, recovery_attempts FROM workflow_status "
                "WHERE workflow_uuid = 'crash-wf-1'")[0]
    assert row == {"status": "SUCCESS", "executor_id": env["ACC_EXECUTOR_ID"], "recovery_attempts": 2}
    steps = query(pg_url, schema, "SELECT function_id, function_name FROM operation_outputs "
                  "WHERE workflow_uuid = 'crash-wf-1' ORDER BY function_id")
    assert [(s["function_id"], s["function_name"].rsplit(".", 1)[-1]) for s in steps] == [
        (1, "step_one"), (2, "step_two")]


@pytest.mark.slow
def test_dbos_seed_program_runs_on_embedded_postgres(spawn: Spawn, public_tmp: Path) -> None:
    env = base_env()  # no DBOS_SYSTEM_DATABASE_URL, no system_database_url in the config
    proc = spawn([sys.executable, str(APPS_DIR / "dbos_starter.py")], env, public_tmp)
    code = proc.wait(120)
    assert code == 0, proc.stderr()[-3000:]
    lines = proc.stdout().splitlines()
    assert lines.count("Step one completed!") == 1 and lines.count("Step two completed!") == 1
    assert lines.index("Step one completed!") < lines.index("Step two completed!")
    assert (public_tmp / ".dbos" / "pgdata" / "PG_VERSION").is_file()
    assert not [pid for pid in proc.descendant_pids() if pid_alive(pid)]
    # A clean exit without DBOS.destroy(): no warnings (e.g. connections lost because the
    # embedded Postgres stopped before the app's pools closed).
    assert not [e for e in proc.log_events() if e.get("level") not in ("debug", "info")]


def process_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


@pytest.mark.slow
def test_whole_tree_sigkill_under_a_non_reaping_init_resumes_at_once(
        spawn: Spawn, app_env: dict[str, str], pg_url: str, schema: str) -> None:
    """SIGKILL of the app, its supervisor and workers at once (a crash of the whole service)
    where orphans are never reaped (container PID 1 without --init): the killed workers stay
    zombies. They are dead all the same: the next launch recovers their slots at once instead
    of waiting for the executor lease (30 s here)."""
    log = app_env["ACC_SIDELOG"]
    env = {**app_env, "ACC_WORKFLOW_ID": "tree-wf-1"}
    app = [sys.executable, str(APPS_DIR / "tree_app.py")]
    init = spawn([sys.executable, str(APPS_DIR / "reaperless_init.py"), *app],
                 {**env, "ACC_PHASE": "crash"}, REPO_ROOT)
    holder = wait_until(lambda: sidelog.read(log, step="two"), 20)[0]
    app_pid = int(wait_until(lambda: init.stdout().strip(), 5))
    assert holder["pid"] != app_pid
    os.killpg(app_pid, signal.SIGKILL)
    wait_until(lambda: process_state(holder["pid"]) == "Z", 5)  # dead, and not reaped

    second = spawn(app, {**env, "ACC_PHASE": "recover"}, REPO_ROOT)
    assert second.wait(40) == 0, second.stderr()[-3000:]
    outcome = json.loads(second.stdout().strip().splitlines()[-1])
    print(f"\nwhole-tree SIGKILL: resumed {outcome['waited']:.2f}s after the next launch")
    assert outcome["result"] == ["one-9", "two-9"]
    assert outcome["waited"] < 5
    assert [r["phase"] for r in sidelog.read(log, step="one")] == ["crash"]
    assert [r["phase"] for r in sidelog.read(log, step="two")] == ["crash", "recover"]
    row = query(pg_url, schema, "SELECT status, recovery_attempts FROM workflow_status "
                "WHERE workflow_uuid = 'tree-wf-1'")[0]
    assert row == {"status": "SUCCESS", "recovery_attempts": 2}

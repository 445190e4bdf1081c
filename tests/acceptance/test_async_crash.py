"""SIGKILL of an app process inside an async workflow's second step: the next launch with the
same executor id recovers it onto its loop thread, and the first step does not run again."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable

import pytest

from tests.acceptance.apps import sidelog
from tests.acceptance.apps.harness import APPS_DIR, REPO_ROOT, AppProcess
from tests.helpers import query, wait_until

pytestmark = [pytest.mark.acceptance]

Spawn = Callable[..., AppProcess]


def test_sigkill_inside_async_step_resumes_without_rerunning_first(
        spawn: Spawn, app_env: dict[str, str], pg_url: str, schema: str) -> None:
    log = app_env["ACC_SIDELOG"]
    env = {**app_env, "ACC_WORKFLOW_ID": "async-crash-1"}
    app = [sys.executable, str(APPS_DIR / "async_crash_app.py")]

    first = spawn(app, {**env, "ACC_PHASE": "crash"}, REPO_ROOT)
    wait_until(lambda: sidelog.read(log, step="two"), 20)
    first.signal(signal.SIGKILL)
    assert first.wait(5) == -signal.SIGKILL
    assert query(pg_url, schema, "SELECT status FROM workflow_status WHERE workflow_uuid = "
                 "'async-crash-1'") == [{"status": "PENDING"}]

    second = spawn(app, {**env, "ACC_PHASE": "recover"}, REPO_ROOT)
    assert second.wait(40) == 0, second.stderr()[-3000:]
    assert json.loads(second.stdout().strip().splitlines()[-1]) == {"result": ["one-7", "two-7"]}
    assert [r["phase"] for r in sidelog.read(log, step="one")] == ["crash"]
    twos = sidelog.read(log, step="two")
    assert [r["phase"] for r in twos] == ["crash", "recover"]
    assert twos[1]["thread"] == "dbos-app-loop" and twos[1]["pid"] == second.pid
    row = query(pg_url, schema, "SELECT status, recovery_attempts FROM workflow_status "
                "WHERE workflow_uuid = 'async-crash-1'")[0]
    assert row == {"status": "SUCCESS", "recovery_attempts": 2}

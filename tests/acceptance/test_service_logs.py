"""One JSON stream with workflow context: a `DBOS.logger` line inside a step, run by a
worker of `dbos-workers start`, carries the workflow id, the step id and the step name; a
workflow that ends in ERROR logs `workflow_failed` at warning with its id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dbos_workers import DBOS
from tests.acceptance.apps.harness import (
    APPS_DIR,
    REPO_ROOT,
    AppProcess,
    cli_command,
    load_module,
    use_env,
)
from tests.helpers import wait_until

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]


def test_dbos_logger_lines_in_a_step_are_json_with_workflow_and_step(
        spawn: Callable[..., AppProcess], app_env: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    service = spawn([*cli_command(), "start", str(APPS_DIR / "ops_app.py"), "--workers", "1"],
                    app_env, REPO_ROOT, new_session=True)
    service.wait_event("service_ready")
    use_env(monkeypatch, {**app_env, "ACC_WORKER_PROCESSES": "0"})
    app = load_module(APPS_DIR / "ops_app.py")
    DBOS.launch()
    handle = app.ops.enqueue(app.chatty, 7)
    assert handle.get_result(timeout=30) == 15
    failing = app.ops.enqueue(app.broken, 3)
    with pytest.raises(ValueError, match="broken 3"):
        failing.get_result(timeout=30)

    def step_lines() -> list[dict[str, Any]]:
        return [e for e in service.log_events() if e["event"].startswith("step says")]

    said = wait_until(lambda: len(step_lines()) == 2 and step_lines(), 20)
    assert [e["event"] for e in said] == ["step says 7", "step says 8"]
    assert {e["workflow_id"] for e in said} == {handle.workflow_id}
    assert [e["step_id"] for e in said] == [1, 2]
    assert all(e["step_name"].endswith("say") and e["logger"] == "dbos" and e["level"] == "info"
               for e in said)
    before = [e for e in service.log_events() if e["event"] == "workflow before its step"]
    assert before[0]["workflow_id"] == handle.workflow_id and "step_id" not in before[0]
    failed = wait_until(lambda: service.log_events("workflow_failed"), 20)
    assert failed[0]["level"] == "warning" and failed[0]["workflow_id"] == failing.workflow_id
    assert "broken 3" in failed[0]["error"]

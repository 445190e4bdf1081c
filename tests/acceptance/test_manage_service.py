"""Managing a real service (`dbos-workers start` of tests/acceptance/apps/manage_app.py) only
through DBOSClient and the `dbos-workers` CLI as a subprocess: enqueue by name and wait for the
result, cancel a running workflow (it stops at its next step), resume it, fork a finished
3-step workflow from step 2 (step 1 not run again: the side log counts runs)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dbos_workers.client import DBOSClient
from tests.acceptance.apps import sidelog
from tests.acceptance.apps.harness import APPS_DIR, REPO_ROOT, AppProcess, base_env, cli_command
from tests.helpers import wait_until

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]
QUEUE = "acc_manage"


@pytest.fixture
def service(spawn: Callable[..., AppProcess], app_env: dict[str, str]) -> Iterator[AppProcess]:
    proc = spawn([*cli_command(), "start", str(APPS_DIR / "manage_app.py"), "--workers", "1"], app_env, REPO_ROOT)
    proc.wait_event("service_ready", 60)
    yield proc


@pytest.fixture
def client(service: AppProcess, pg_url: str, schema: str) -> Iterator[DBOSClient]:
    c = DBOSClient(pg_url, dbos_system_schema=schema)
    yield c
    c.destroy()


def cli(pg_url: str, schema: str, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = base_env(DBOS_SYSTEM_DATABASE_URL=pg_url)
    return subprocess.run([*cli_command(), *argv, "--schema", schema], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout)


def cli_json(pg_url: str, schema: str, *argv: str) -> Any:
    done = cli(pg_url, schema, *argv, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def ticks(log: str, key: str) -> list[int]:
    return [r["k"] for r in sidelog.read(log, step="tick", key=key)]


def quiet(log: str, key: str, for_sec: float = 1.5) -> bool:
    """No new tick of this key for for_sec (a cancelled workflow has stopped)."""
    before = len(ticks(log, key))
    time.sleep(for_sec)
    return len(ticks(log, key)) == before


def test_client_manages_the_service(client: DBOSClient, app_env: dict[str, str]) -> None:
    log = app_env["ACC_SIDELOG"]
    assert client.enqueue({"workflow_name": "manage-add", "queue_name": QUEUE}, 2, 3).get_result(timeout=60) == 5
    # cancel a running workflow: it stops at its next step; resume: it goes on from there
    slow = client.enqueue({"workflow_name": "manage-slow", "queue_name": QUEUE}, "c", 40)
    wait_until(lambda: len(ticks(log, "c")) >= 3, 60)
    client.cancel_workflow(slow.workflow_id)
    at_cancel = len(ticks(log, "c"))
    wait_until(lambda: quiet(log, "c"), 30)
    assert len(ticks(log, "c")) <= at_cancel + 1
    assert client.retrieve_workflow(slow.workflow_id).get_status().status == "CANCELLED"
    client.resume_workflow(slow.workflow_id)
    assert slow.get_result(timeout=120) == sum(range(40))
    assert sorted(set(ticks(log, "c"))) == list(range(40))
    assert len(ticks(log, "c")) <= 41  # at most the step in flight at the cancel ran twice
    # fork a finished 3-step workflow from step 2
    three = client.enqueue({"workflow_name": "manage-three", "queue_name": QUEUE, "workflow_id": "m3"}, "f")
    assert three.get_result(timeout=60) == "f1-f2-f3"
    steps = client.list_workflow_steps("m3")
    assert [s["output"] for s in steps] == ["f1", "f2", "f3"]
    fork = client.fork_workflow("m3", steps[1]["function_id"])
    assert fork.get_result(timeout=60) == "f1-f2-f3"
    runs = [r["n"] for r in sidelog.read(log, step="mark", key="f")]
    assert sorted(runs) == [1, 2, 2, 3, 3]  # step 1 ran once
    assert [w.workflow_id for w in client.list_workflows(forked_from="m3")] == [fork.workflow_id]


def test_cli_manages_the_service(service: AppProcess, pg_url: str, schema: str, app_env: dict[str, str]) -> None:
    log = app_env["ACC_SIDELOG"]
    out = cli_json(pg_url, schema, "workflow", "enqueue", "manage-add", "--queue", QUEUE, "--args", "[20, 22]",
                   "--id", "cli-add", "--wait", "60")
    assert out == {"workflow_id": "cli-add", "result": 42}
    got = cli_json(pg_url, schema, "workflow", "get", "cli-add")
    assert (got["status"], got["name"], got["output"], got["input"]) == (
        "SUCCESS", "manage-add", 42, {"args": [20, 22], "kwargs": {}})
    listed = cli_json(pg_url, schema, "workflow", "list", "-n", "manage-add")
    assert [w["workflow_id"] for w in listed] == ["cli-add"]
    table = cli(pg_url, schema, "workflow", "list", "-S", "SUCCESS")
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:3] == ["WORKFLOW_ID", "STATUS", "NAME"]
    assert "cli-add" in table.stdout
    missing = cli(pg_url, schema, "workflow", "get", "nope")
    assert (missing.returncode, missing.stdout, missing.stderr.strip().splitlines()) == (
        1, "", ["dbos-workers: workflow nope not found"])
    assert cli(pg_url, schema, "workflow", "cancel", "nope").returncode == 1
    # cancel / resume a running workflow
    cli_json(pg_url, schema, "workflow", "enqueue", "manage-slow", "--queue", QUEUE, "--args", '["x", 30]',
             "--id", "cli-slow")
    wait_until(lambda: len(ticks(log, "x")) >= 3, 60)
    assert cli_json(pg_url, schema, "workflow", "cancel", "cli-slow")["status"] == "CANCELLED"
    at_cancel = len(ticks(log, "x"))
    wait_until(lambda: quiet(log, "x"), 30)
    assert len(ticks(log, "x")) <= at_cancel + 1
    assert cli_json(pg_url, schema, "workflow", "get", "cli-slow")["status"] == "CANCELLED"
    assert cli_json(pg_url, schema, "workflow", "resume", "cli-slow")["status"] in ("ENQUEUED", "PENDING", "SUCCESS")
    wait_until(lambda: cli_json(pg_url, schema, "workflow", "get", "cli-slow")["status"] == "SUCCESS", 120, 0.5)
    assert sorted(set(ticks(log, "x"))) == list(range(30))
    # fork a finished 3-step workflow from step 2, with its own id
    cli_json(pg_url, schema, "workflow", "enqueue", "manage-three", "--queue", QUEUE, "--args", '["k"]',
             "--id", "cli-three", "--wait", "60")
    steps = cli_json(pg_url, schema, "workflow", "steps", "cli-three")
    assert [s["output"] for s in steps] == ["k1", "k2", "k3"]
    forked = cli_json(pg_url, schema, "workflow", "fork", "cli-three", "--step", str(steps[1]["function_id"]),
                      "--id", "cli-fork")
    assert forked == {"workflow_id": "cli-fork", "forked_from": "cli-three", "start_step": steps[1]["function_id"]}
    wait_until(lambda: cli_json(pg_url, schema, "workflow", "get", "cli-fork")["status"] == "SUCCESS", 60, 0.5)
    assert sorted(r["n"] for r in sidelog.read(log, step="mark", key="k")) == [1, 2, 2, 3, 3]
    # queue list: an unknown name waits, parked and counted
    cli_json(pg_url, schema, "workflow", "enqueue", "nobody-knows", "--queue", QUEUE, "--id", "cli-unknown")

    def parked() -> bool:
        queues = {q["name"]: q for q in cli_json(pg_url, schema, "queue", "list")}
        return queues.get(QUEUE, {}).get("parked") == 1

    wait_until(parked, 60, 0.5)
    queues = {q["name"]: q for q in cli_json(pg_url, schema, "queue", "list")}
    assert (queues[QUEUE]["enqueued"], queues[QUEUE]["pending"], queues[QUEUE]["registered"]) == (1, 0, True)
    assert cli_json(pg_url, schema, "workflow", "get", "cli-unknown")["status"] == "ENQUEUED"

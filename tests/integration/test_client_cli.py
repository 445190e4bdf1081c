"""The management CLI in-process (`dbos_workers.cli.main`): filters, tables and JSON, exit
codes (not found 1, other errors 2), reset; the subprocess runs are in
tests/acceptance/test_manage_service.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dbos_workers import DBOS, Queue, SetWorkflowID
from dbos_workers.cli import main
from dbos_workers.db import migrate
from tests.helpers import query

pytestmark = pytest.mark.integration


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def seeded(launch: Any) -> None:
    Queue("cli-q", concurrency=3)

    @DBOS.workflow(name="cli-square")
    def square(x: int) -> int:
        return x * x

    launch()
    for i in range(4):
        with SetWorkflowID(f"sq-{i}"):
            square(i)


def test_list_filters_json_and_table(seeded: None, capsys: pytest.CaptureFixture[str], pg_url: str,
                                     schema: str) -> None:
    base = ("--url", pg_url, "--schema", schema)
    code, out, _ = run(capsys, "workflow", "list", *base, "-n", "cli-square", "-d", "-l", "2", "--json")
    assert code == 0
    assert [w["workflow_id"] for w in json.loads(out)] == ["sq-3", "sq-2"]
    code, out, _ = run(capsys, "workflow", "list", *base, "-o", "1", "-l", "2", "--json")
    assert [w["workflow_id"] for w in json.loads(out)] == ["sq-1", "sq-2"]
    code, out, _ = run(capsys, "workflow", "list", *base, "--prefix", "sq-3", "-S", "SUCCESS")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["WORKFLOW_ID", "STATUS", "NAME", "QUEUE_NAME", "CREATED_AT",
                                              "EXECUTOR_ID"]
    assert len(lines) == 2 and lines[1].split()[:3] == ["sq-3", "SUCCESS", "cli-square"]
    code, out, _ = run(capsys, "workflow", "steps", *base, "sq-1", "--json")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = run(capsys, "queue", "list", *base, "--json")
    queues = {q["name"]: q for q in json.loads(out)}
    assert (queues["cli-q"]["concurrency"], queues["cli-q"]["enqueued"]) == (3, 0)


def test_exit_codes(seeded: None, capsys: pytest.CaptureFixture[str], pg_url: str, schema: str,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    base = ("--url", pg_url, "--schema", schema)
    for command in ("get", "steps", "cancel", "resume", "fork"):
        code, out, err = run(capsys, "workflow", command, *base, "missing-id")
        assert (code, out, err) == (1, "", "dbos-workers: workflow missing-id not found\n"), command
    code, _, err = run(capsys, "workflow", "list", "--url", pg_url, "--schema", "no_schema_here")
    assert code == 2 and "dbos-workers migrate" in err and len(err.strip().splitlines()) == 1
    monkeypatch.delenv("DBOS_SYSTEM_DATABASE_URL", raising=False)
    code, _, err = run(capsys, "queue", "list", "--schema", schema)
    assert code == 2 and "DBOS_SYSTEM_DATABASE_URL" in err
    monkeypatch.setenv("DBOS_SYSTEM_DATABASE_URL", pg_url)
    code, out, _ = run(capsys, "workflow", "get", "--schema", schema, "sq-2", "--json")
    assert (code, json.loads(out)["output"]) == (0, 4)


def test_enqueue_waits_for_parked_name(seeded: None, capsys: pytest.CaptureFixture[str], pg_url: str,
                                       schema: str) -> None:
    code, out, _ = run(capsys, "workflow", "enqueue", "not-registered", "--queue", "cli-q", "--args", "[1]",
                       "--kwargs", '{"y": 2}', "--id", "e-1", "--priority", "3", "--url", pg_url,
                       "--schema", schema, "--json")
    assert (code, json.loads(out)) == (0, {"workflow_id": "e-1"})
    row = query(pg_url, schema, "SELECT status, priority, queue_name FROM workflow_status WHERE workflow_uuid = 'e-1'")
    assert row == [{"status": "ENQUEUED", "priority": 3, "queue_name": "cli-q"}]
    code, out, _ = run(capsys, "queue", "list", "--url", pg_url, "--schema", schema, "--json")
    q = {q["name"]: q for q in json.loads(out)}["cli-q"]
    assert (q["enqueued"], q["pending"], q["delayed"], q["registered"]) == (1, 0, 0, True)
    assert q["oldest_age_s"] is not None and q["oldest_age_s"] >= 0
    code, out, _ = run(capsys, "queue", "list", "--url", pg_url, "--schema", schema)
    assert out.splitlines()[0].split()[:6] == ["NAME", "ENQUEUED", "PARKED", "PENDING", "DELAYED", "OLDEST_AGE_S"]
    code, out, _ = run(capsys, "workflow", "cancel", "sq-1", "--url", pg_url, "--schema", schema, "--json")
    assert (code, json.loads(out)) == (0, {"workflow_id": "sq-1", "status": "SUCCESS"})  # finished: unchanged
    code, _, err = run(capsys, "workflow", "enqueue", "x", "--queue", "cli-q", "--args", "{}", "--url", pg_url,
                       "--schema", schema)
    assert code == 2 and "JSON array" in err


def test_reset(capsys: pytest.CaptureFixture[str], pg_url: str, schema: str,
               monkeypatch: pytest.MonkeyPatch) -> None:
    migrate.migrate(pg_url, schema)
    present = "SELECT count(*) AS n FROM information_schema.schemata WHERE schema_name = %s"
    monkeypatch.setattr("builtins.input", lambda _: "n")
    code, _, err = run(capsys, "reset", "--url", pg_url, "--schema", schema)
    assert code == 1 and "aborted" in err
    assert query(pg_url, "public", present, schema)[0]["n"] == 1
    code, out, _ = run(capsys, "reset", "-y", "--url", pg_url, "--schema", schema, "--json")
    assert (code, json.loads(out)) == (0, {"schema": schema, "dropped": True})
    assert query(pg_url, "public", present, schema)[0]["n"] == 0

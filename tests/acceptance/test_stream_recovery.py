"""Streams under SIGKILL: a workflow writing a stream and one reading it are killed mid-way
and recovered by the next launch. Each value is written once and read once (the writes are
checkpointed with their values; the reads replay from their checkpoints)."""

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


def test_killed_stream_writer_and_reader_yield_each_value_once(
        spawn: Callable[..., AppProcess], app_env: dict[str, str], pg_url: str, schema: str) -> None:
    log = app_env["ACC_SIDELOG"]
    app = [sys.executable, str(APPS_DIR / "stream_app.py")]
    first = spawn(app, {**app_env, "ACC_PHASE": "crash"}, REPO_ROOT)

    def reader_caught_up() -> bool:  # read 0, 1, 2 (and ran a step each), waiting for 3
        if not sidelog.read(log, step="pause"):  # (the schema exists once the writer runs)
            return False
        steps = query(pg_url, schema, "SELECT function_name FROM operation_outputs "
                      "WHERE workflow_uuid = 'stream-reader' ORDER BY function_id")
        return len(steps) == 6

    wait_until(reader_caught_up, 30)
    first.signal(signal.SIGKILL)
    assert first.wait(5) == -signal.SIGKILL
    assert [r["offset"] for r in query(pg_url, schema, 'SELECT "offset" FROM streams '
                                       'ORDER BY "offset"')] == [0, 1, 2]

    second = spawn(app, {**app_env, "ACC_PHASE": "recover"}, REPO_ROOT)
    assert second.wait(60) == 0, second.stderr()[-3000:]
    out = json.loads(second.stdout().strip().splitlines()[-1])
    assert out == {"reader": [0, 1, 2, 3, 4], "stream": [0, 1, 2, 3, 4]}
    rows = query(pg_url, schema, 'SELECT "offset", value IS NULL AS closed FROM streams '
                 "WHERE workflow_uuid = 'stream-writer' ORDER BY \"offset\"")
    assert [(r["offset"], r["closed"]) for r in rows] == [(i, False) for i in range(5)] + [(5, True)]
    seen = sidelog.read(log, step="seen")
    assert [(r["value"], r["phase"]) for r in seen] == [
        (0, "crash"), (1, "crash"), (2, "crash"), (3, "recover"), (4, "recover")]
    names = [r["function_name"] for r in query(
        pg_url, schema, "SELECT function_name FROM operation_outputs WHERE workflow_uuid = 'stream-writer' "
        "ORDER BY function_id")]
    assert names == ["DBOS.writeStream"] * 3 + [names[3]] + ["DBOS.writeStream"] * 2 + ["DBOS.closeStream"]
    assert names[3].endswith("pause")

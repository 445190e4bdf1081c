"""The checker of the multi-host chaos tests: reads the database and the hosts' side logs
after a run and asserts the guarantees, with a fault log to tell an allowed re-run from a bug.

- every acknowledged workflow (the client's enqueue returned) ends SUCCESS exactly once: one
  row, its output says the body ran to the end on the host that owns the row (a fenced
  runner's outcome would name another host), every step recorded once in operation_outputs;
- every cron tick fired once (ids are unique by construction; the gap check shows none was
  skipped) and its body ran once, or again only in a tick workflow that was recovered;
- every message sent was received once, in order, by its workflow, and none is left unread;
- a step ran more than once only where a fault hit its earlier run: its process was killed,
  its host was partitioned, or Postgres restarted, while that run was in flight.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbos_workers.serialization import PickleSerializer

Db = Callable[..., list[dict[str, Any]]]
TICK_ISO = re.compile(r"-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00)$")
SLACK_MS = 3000  # a step's checkpoint may still be in flight this long after its record


@dataclass
class Fault:
    kind: str  # "kill" (one worker pid), "kill_host" (a host's tree), "partition", "pg_restart"
    start_ms: int
    end_ms: int
    host: str | None = None
    pid: int | None = None

    def hits(self, record: dict[str, Any], step_ms: int) -> bool:
        """Did this fault hit the run that wrote record (in flight, or its checkpoint)?"""
        at = int(record["ms"])
        in_flight = self.start_ms - step_ms - SLACK_MS <= at <= self.end_ms
        if self.kind == "kill":
            return in_flight and record["pid"] == self.pid
        if self.kind in ("kill_host", "partition"):
            return in_flight and record["host"] == self.host
        return in_flight  # a Postgres restart hits everyone


@dataclass
class Expected:
    kind: str  # "job" or "mailbox"
    key: str
    steps: int = 0
    messages: list[str] = field(default_factory=list)


def side_records(log_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(log_dir.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
    return rows


def _output(raw: str) -> Any:
    return PickleSerializer().deserialize(raw)


def check_workflows(db: Db, records: list[dict[str, Any]], expected: dict[str, Expected],
                    faults: list[Fault], step_ms: int) -> dict[str, Any]:
    rows = {r["workflow_uuid"]: r for r in db(
        "SELECT workflow_uuid, status, output, executor_id, recovery_attempts FROM workflow_status "
        "WHERE workflow_uuid = ANY(%s)", list(expected))}
    assert sorted(rows) == sorted(expected), "an acknowledged workflow is missing"
    not_done = {k: r["status"] for k, r in rows.items() if r["status"] != "SUCCESS"}
    assert not not_done, f"acknowledged workflows not SUCCESS: {not_done}"
    for wf, want in expected.items():
        out = _output(rows[wf]["output"])
        owner = rows[wf]["executor_id"].split("/")[0]
        assert out["key"] == want.key and out["host"] == owner, (wf, out, rows[wf]["executor_id"])
        if want.kind == "job":
            assert out["steps"] == list(range(want.steps)), (wf, out)
        else:
            assert out["messages"] == want.messages, (wf, out, want.messages)
    recorded = Counter(r["workflow_uuid"] for r in db(
        "SELECT workflow_uuid FROM operation_outputs WHERE workflow_uuid = ANY(%s)", list(expected)))
    for wf, want in expected.items():
        if want.kind == "job":
            assert recorded[wf] == want.steps, (wf, recorded[wf])
    unread = db("SELECT destination_uuid, message FROM notifications WHERE NOT consumed "
                "AND destination_uuid = ANY(%s)", list(expected))
    assert unread == [], f"messages left unread: {unread}"
    return _check_reruns(records, faults, step_ms)


def _check_reruns(records: list[dict[str, Any]], faults: list[Fault], step_ms: int) -> dict[str, Any]:
    runs: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r["kind"] == "step":
            runs[(r["wf"], r["step"])].append(r)
    unexplained, reruns = [], 0
    for key, seen in runs.items():
        seen.sort(key=lambda r: r["ms"])
        for earlier in seen[:-1]:
            reruns += 1
            if not any(f.hits(earlier, step_ms) for f in faults):
                unexplained.append((key, [(r["host"], r["pid"], r["ms"]) for r in seen]))
    assert not unexplained, f"steps re-run where no fault hit them: {unexplained[:5]}"
    return {"steps_run": sum(len(v) for v in runs.values()), "step_reruns": reruns}


def check_ticks(db: Db, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Every tick fired up to the last second: consecutive, SUCCESS, body once (or again only
    in a recovered tick workflow). Call when the schedule has run for a while after the last
    fault."""
    rows = db("SELECT workflow_uuid, status, recovery_attempts FROM workflow_status "
              "WHERE workflow_uuid LIKE 'sched-%%'")
    fired: dict[dt.datetime, dict[str, Any]] = {}
    for row in rows:
        match = TICK_ISO.search(row["workflow_uuid"])
        assert match, row["workflow_uuid"]
        fired[dt.datetime.fromisoformat(match.group(1))] = row
    times = sorted(fired)[:-2]  # the last two may still be running
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
    assert gaps <= {1.0}, f"ticks skipped: gaps {sorted(gaps)}"
    body = Counter(dt.datetime.fromisoformat(r["tick"]) for r in records if r["kind"] == "tick")
    missing = [t for t in times if body[t] == 0 or fired[t]["status"] != "SUCCESS"]
    assert not missing, f"ticks fired but not run to SUCCESS: {missing[:5]}"
    twice = {t: body[t] for t in times if body[t] > 1}
    assert all(fired[t]["recovery_attempts"] >= 2 for t in twice), f"a tick fired twice: {twice}"
    return {"ticks": len(times), "tick_body_reruns_after_recovery": len(twice)}

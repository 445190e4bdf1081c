"""Test-side helpers of the multi-host chaos tests: start the hosts of a fabric, enqueue
acknowledged work through a DBOSClient, read the leader row, a host's log events and pids."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from dbos_workers import DBOSClient
from dbos_workers.db import migrate
from tests.chaos import checker
from tests.chaos.netns import Fabric, SimHost
from tests.helpers import query, wait_until


def now_ms() -> int:
    return int(time.time() * 1000)


def events_ms(host: SimHost, event: str) -> list[int]:
    """Wall-clock ms of each JSON log event of a host's tree."""
    out = []
    for line in host.stderr().splitlines():
        if line.startswith("{") and f'"{event}"' in line:
            entry = json.loads(line)
            if entry.get("event") == event:
                out.append(int(dt.datetime.fromisoformat(entry["timestamp"]).timestamp() * 1000))
    return out


def start_hosts(fabric: Fabric, schema: str, url: str | None = None) -> checker.Db:
    target = url or fabric.postgres.url
    migrate.migrate(target, schema)

    def db(statement: str, *params: Any) -> list[dict[str, Any]]:
        return query(target, schema, statement, *params)

    for name in fabric.hosts:
        fabric.start(name, schema, url=target)
    wait_until(lambda: len(db("SELECT 1 FROM executors WHERE executor_id LIKE '%%/0' "
                              "AND stopped_at IS NULL")) >= len(fabric.hosts), 60, 0.2)
    wait_until(lambda: db("SELECT 1 FROM leader"), 30, 0.2)
    return db


def enqueue_jobs(client: DBOSClient, expected: dict[str, checker.Expected], prefix: str, n: int,
                 steps: int) -> list[str]:
    ids = []
    for i in range(n):
        wf = f"{prefix}-{i}"
        client.enqueue({"workflow_name": "job", "queue_name": "chaos_hosts", "workflow_id": wf}, wf, steps)
        expected[wf] = checker.Expected("job", wf, steps=steps)  # acknowledged: enqueue returned
        ids.append(wf)
    return ids


def leader_host(db: checker.Db) -> tuple[str, int]:
    row = db("SELECT executor_id, elected_at FROM leader")[0]
    return row["executor_id"].split("/")[0], int(row["elected_at"])


def worker_pid(db: checker.Db, host: str) -> int | None:
    """The pid of the host's live worker (slot 0), from its lease row."""
    rows = db("SELECT pid FROM executors WHERE executor_id = %s AND stopped_at IS NULL "
              "ORDER BY started_at DESC LIMIT 1", f"{host}/0")
    return int(rows[0]["pid"]) if rows else None


def leader_pid(db: checker.Db) -> tuple[str, int] | None:
    """(host, pid) of the process that leads now."""
    rows = db("SELECT l.executor_id, e.pid FROM leader l JOIN executors e ON e.instance_id = l.instance_id")
    return (rows[0]["executor_id"].split("/")[0], int(rows[0]["pid"])) if rows else None


def retried(fn: Any, *args: Any, **kwargs: Any) -> None:
    """Until the call returns (acknowledged); its inputs make it idempotent (workflow id,
    idempotency key), so a retry after an ambiguous failure cannot duplicate."""
    deadline = time.monotonic() + 90
    while True:
        try:
            fn(*args, **kwargs)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)

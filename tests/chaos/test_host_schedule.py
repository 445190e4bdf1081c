"""A randomized fault schedule over three namespace hosts (in the spirit of Jepsen), seeded
so a failure replays: `pytest -m chaos tests/chaos/test_host_schedule.py --chaos-seed N`
(default 1, the CI form; `--chaos-seed -1` draws a new one and prints it); `--chaos-minutes M`
runs the long form. While a client keeps enqueueing jobs and mailbox
workflows and sending them messages, the schedule kills workers (kill -9), kills the leader,
partitions hosts silently and heals them, and restarts Postgres (immediate mode, i.e. a crash).
Afterwards the checker (tests/chaos/checker.py) reads the database and the hosts' side logs."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from dbos_workers import DBOSClient
from tests.chaos import checker
from tests.chaos.hostkit import leader_pid, now_ms, retried, start_hosts, worker_pid
from tests.chaos.netns import Fabric
from tests.helpers import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

LEASE_SEC = 2.0
STEP_SEC = 0.3
SHORT_FAULT_SEC = 30.0
MAILBOX_MESSAGES = 3


@dataclass
class Run:
    """The client side of the schedule: what was acknowledged, and the faults injected."""

    fabric: Fabric
    db: checker.Db
    client: DBOSClient
    rng: random.Random
    expected: dict[str, checker.Expected] = field(default_factory=dict)
    faults: list[checker.Fault] = field(default_factory=list)
    open_mail: list[str] = field(default_factory=list)
    partitioned: dict[str, tuple[float, int]] = field(default_factory=dict)  # host: (heal at, since ms)
    n: int = 0

    def produce(self) -> None:
        self.n += 1
        wf = f"s{self.n}"
        if self.rng.random() < 0.2:
            retried(self.client.enqueue, {"workflow_name": "mailbox", "queue_name": "chaos_hosts",
                                          "workflow_id": wf}, wf, MAILBOX_MESSAGES)
            self.expected[wf] = checker.Expected("mailbox", wf)
            self.open_mail.append(wf)
        else:
            steps = self.rng.randint(2, 6)
            retried(self.client.enqueue, {"workflow_name": "job", "queue_name": "chaos_hosts",
                                          "workflow_id": wf}, wf, steps)
            self.expected[wf] = checker.Expected("job", wf, steps=steps)
        if self.open_mail and self.rng.random() < 0.6:
            self.send(self.rng.choice(self.open_mail))

    def send(self, wf: str) -> None:
        want = self.expected[wf]
        message = f"{wf}-m{len(want.messages)}"
        retried(self.client.send, wf, message, "mail", idempotency_key=message)
        want.messages.append(message)
        if len(want.messages) == MAILBOX_MESSAGES:
            self.open_mail.remove(wf)

    def fault(self) -> str:
        hosts = sorted(self.fabric.hosts)
        kind = self.rng.choice(["kill", "kill_leader", "partition", "partition", "pg_restart"])
        start = now_ms()
        if kind == "pg_restart":
            self.fabric.postgres.restart("immediate")
            self.faults.append(checker.Fault("pg_restart", start, now_ms() + int(LEASE_SEC * 1000)))
            return kind
        if kind == "partition":
            free = [h for h in hosts if h not in self.partitioned]
            if len(free) < 2:
                return "skip"
            host = self.rng.choice(free)
            self.fabric.partition(host)
            self.partitioned[host] = (time.monotonic() + self.rng.uniform(3, 14), start)
            return f"partition {host}"
        with contextlib.suppress(Exception):  # the database may be down; the fault is skipped then
            target = leader_pid(self.db) if kind == "kill_leader" else (
                (h := self.rng.choice(hosts)), worker_pid(self.db, h))
            if target and target[1]:
                host, pid = target[0], int(target[1])
                self.fabric.hosts[host].pids_seen.add(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    self.faults.append(checker.Fault("kill", start, now_ms(), host=host, pid=pid))
                    return f"{kind} {host} pid {pid}"
        return "skip"

    def heal_due(self, everyone: bool = False) -> None:
        for host, (heal_at, since) in list(self.partitioned.items()):
            if everyone or time.monotonic() >= heal_at:
                self.fabric.heal(host)
                self.faults.append(checker.Fault("partition", since, now_ms(), host=host))
                del self.partitioned[host]


def schedule(run: Run, seconds: float) -> list[str]:
    log: list[str] = []
    end = time.monotonic() + seconds
    next_fault = time.monotonic() + run.rng.uniform(1, 3)
    while time.monotonic() < end:
        run.produce()
        run.heal_due()
        if time.monotonic() >= next_fault:
            log.append(f"{time.monotonic() - end + seconds:6.1f}s {run.fault()}")
            next_fault = time.monotonic() + run.rng.uniform(1.5, 5)
        time.sleep(run.rng.uniform(0.1, 0.4))
    run.heal_due(everyone=True)
    for wf in list(run.open_mail):  # complete every mailbox
        while wf in run.open_mail:
            run.send(wf)
    return log


def test_randomized_fault_schedule_keeps_every_guarantee(fabric_factory: Any, pytestconfig: pytest.Config) -> None:
    seed = pytestconfig.getoption("--chaos-seed")
    seed = seed if seed is not None and seed >= 0 else random.randrange(1 << 32)
    minutes = pytestconfig.getoption("--chaos-minutes")
    seconds = 60 * minutes if minutes else SHORT_FAULT_SEC
    print(f"\n[schedule] seed={seed} fault_sec={seconds} (replay: --chaos-seed {seed})")
    fabric: Fabric = fabric_factory(3, lease_sec=LEASE_SEC, step_sec=STEP_SEC)
    db = start_hosts(fabric, f"s_{uuid.uuid4().hex[:8]}")
    client = DBOSClient(fabric.postgres.url, dbos_system_schema=db("SELECT current_schema() AS s")[0]["s"])
    run = Run(fabric, db, client, random.Random(seed))
    try:
        log = schedule(run, seconds)
        print("\n".join(log))
        ids = list(run.expected)
        settled_from = time.monotonic()
        wait_until(lambda: db("SELECT count(*) AS n FROM workflow_status WHERE status = 'SUCCESS' "
                              "AND workflow_uuid = ANY(%s)", ids)[0]["n"] == len(ids), 180, 0.5)
        settle_sec = time.monotonic() - settled_from
        since = now_ms()
        wait_until(lambda: len(db("SELECT 1 FROM workflow_status WHERE workflow_uuid LIKE 'sched-%%' "
                                  "AND created_at > %s", since)) >= 3, 30, 0.2)
        records = checker.side_records(fabric.base)
        numbers = checker.check_workflows(db, records, run.expected, run.faults, int(STEP_SEC * 1000))
        numbers.update(checker.check_ticks(db, records))
    finally:
        client.destroy()
    kinds = [f.kind for f in run.faults]
    print(f"[schedule] seed={seed} workflows={len(run.expected)} faults={len(kinds)} "
          f"kills={kinds.count('kill')} partitions={kinds.count('partition')} "
          f"pg_restarts={kinds.count('pg_restart')} settled_sec={settle_sec:.1f} "
          + " ".join(f"{k}={v}" for k, v in numbers.items()))
    assert len(run.faults) >= 3, "the schedule injected too few faults to mean anything"

"""The leader across hosts: separate process trees (app + supervisor + workers) with their own
executor ids on one database schema, killed (SIGKILL of the whole tree), frozen (SIGSTOP) and
cut off (pg_terminate_backend of the elector's session).

A cron tick "fires" when the leader inserts its `sched-{name}-{tick}` row. The schedule's body
appends to `lh_ticks` every time it runs, so a second fire would show as a second row for one
tick; the only accepted exception is a tick workflow that was itself recovered from a killed or
frozen runner (recovery_attempts >= 2: the body re-ran, nothing fired twice).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dbos_workers.db import migrate
from tests.helpers import query, wait_until

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

APP = Path(__file__).resolve().parent / "apps" / "leader_host.py"
REPO_ROOT = Path(__file__).resolve().parents[2]
LEASE_SEC = 2.0
TICK_ISO = re.compile(r"-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00)$")
SIDE_TABLES = (
    "CREATE TABLE lh_ticks (scheduled_at TEXT NOT NULL, workflow_id TEXT NOT NULL, host TEXT NOT NULL, "
    "executor_id TEXT NOT NULL, pid INTEGER NOT NULL, recorded_ms BIGINT NOT NULL)",
    "CREATE TABLE lh_steps (workflow_id TEXT NOT NULL, step INTEGER NOT NULL, host TEXT NOT NULL, "
    "pid INTEGER NOT NULL, recorded_ms BIGINT NOT NULL)",
)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Host:
    """One host: a process tree in its own session (its process group id is the app's pid)."""

    name: str
    popen: subprocess.Popen[bytes]
    stderr_path: Path

    def killpg(self, sig: signal.Signals) -> None:
        os.killpg(self.popen.pid, sig)

    def events(self, event: str) -> list[dict[str, Any]]:
        found = []
        for line in self.stderr_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and line.endswith("}"):
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if entry.get("event") == event:
                        found.append(entry)
        return found


@pytest.fixture
def db(pg_url: str, schema: str) -> Callable[..., list[dict[str, Any]]]:
    """db(statement, *params): rows of a statement run in this test's schema."""
    migrate.migrate(pg_url, schema)  # the hosts find it migrated; the side tables live next to it
    for statement in SIDE_TABLES:
        query(pg_url, schema, statement)
    return lambda statement, *params: query(pg_url, schema, statement, *params)


@pytest.fixture
def start_host(pg_url: str, schema: str, tmp_path: Path) -> Iterator[Callable[..., Host]]:
    """start_host(name, workers, **env) -> Host; every tree still alive is SIGKILLed after."""
    started: list[Host] = []

    def _start(name: str, workers: int, env_extra: dict[str, str] | None = None, **extra: str) -> Host:
        env = {k: v for k, v in os.environ.items() if k != "DBOS_SYSTEM_DATABASE_URL"}
        env.update(env_extra or {})
        env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
                   PYTHONUNBUFFERED="1", LH_DB_URL=pg_url, LH_SCHEMA=schema, LH_EXECUTOR_ID=name,
                   LH_LEASE_SEC=str(LEASE_SEC), LH_WORKERS=str(workers), **extra)
        err = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}.err"
        with err.open("wb") as stderr:
            popen = subprocess.Popen([sys.executable, str(APP)], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                                     stdout=stderr, stderr=stderr, start_new_session=True)
        host = Host(name, popen, err)
        started.append(host)
        return host

    yield _start
    for host in started:
        with contextlib.suppress(ProcessLookupError):
            host.killpg(signal.SIGKILL)
        host.popen.wait(10)


def leader(db: Callable[..., list[dict[str, Any]]]) -> dict[str, Any] | None:
    rows = db("SELECT executor_id, instance_id, elected_at, renewed_at, backend_pid FROM leader")
    return rows[0] if rows else None


def wait_leader(db: Callable[..., list[dict[str, Any]]], test: Callable[[dict[str, Any]], bool],
                timeout: float) -> dict[str, Any]:
    def matching() -> dict[str, Any] | None:
        row = leader(db)
        return row if row is not None and test(row) else None

    found: dict[str, Any] = wait_until(matching, timeout)
    return found


def wait_workers(db: Callable[..., list[dict[str, Any]]], host: str, workers: int) -> None:
    wait_until(lambda: len(db("SELECT 1 FROM executors WHERE executor_id LIKE %s AND stopped_at IS NULL",
                              f"{host}/%")) >= workers, 20)


def ticks(db: Callable[..., list[dict[str, Any]]]) -> dict[dt.datetime, dict[str, Any]]:
    """Every fired tick: {tick time: its workflow row}."""
    rows = db("SELECT workflow_uuid, status, recovery_attempts, created_at FROM workflow_status "
              "WHERE workflow_uuid LIKE 'sched-%%'")
    out = {}
    for row in rows:
        match = TICK_ISO.search(row["workflow_uuid"])
        assert match, row["workflow_uuid"]
        out[dt.datetime.fromisoformat(match.group(1))] = row
    return out


def first_fire_after(db: Callable[..., list[dict[str, Any]]], since_ms: int, timeout: float) -> int:
    """created_at (epoch ms) of the first tick row inserted after since_ms."""
    rows = wait_until(lambda: db("SELECT min(created_at) AS at FROM workflow_status "
                                 "WHERE workflow_uuid LIKE 'sched-%%' AND created_at > %s", since_ms)[0]["at"],
                      timeout)
    return int(rows)


def wait_ticks_after(db: Callable[..., list[dict[str, Any]]], since_ms: int, n: int, timeout: float) -> None:
    wait_until(lambda: len(db("SELECT 1 FROM workflow_status WHERE workflow_uuid LIKE 'sched-%%' "
                              "AND created_at > %s", since_ms)) >= n, timeout)


def check_every_second_once(db: Callable[..., list[dict[str, Any]]]) -> dict[str, Any]:
    """All ticks fired so far, up to the last second: consecutive, each run to SUCCESS, each
    body recorded once (or re-run only after its runner died). Returns the numbers."""
    fired = ticks(db)
    until = max(fired) - dt.timedelta(seconds=1)
    window = {t: row for t, row in fired.items() if t <= until}

    def all_done() -> bool:
        rows = db("SELECT status FROM workflow_status WHERE workflow_uuid = ANY(%s)",
                  [r["workflow_uuid"] for r in window.values()])
        return all(r["status"] == "SUCCESS" for r in rows)

    wait_until(all_done, 3 * LEASE_SEC + 5)
    times = sorted(window)
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
    assert gaps == {1.0}, f"ticks skipped or doubled: gaps {gaps}"
    side = db("SELECT scheduled_at, workflow_id, host, pid FROM lh_ticks")
    runs = Counter(dt.datetime.fromisoformat(r["scheduled_at"]) for r in side)
    assert all(runs[t] >= 1 for t in times), "a tick row without its body run"
    reruns = {t: runs[t] for t in times if runs[t] > 1}
    recovered = {t: db("SELECT recovery_attempts FROM workflow_status WHERE workflow_uuid = %s",
                       window[t]["workflow_uuid"])[0]["recovery_attempts"] for t in reruns}
    assert all(attempts >= 2 for attempts in recovered.values()), f"a tick fired twice: {reruns}"
    for r in side:  # each body ran under its tick's deterministic id
        tick = dt.datetime.fromisoformat(r["scheduled_at"])
        assert tick not in window or r["workflow_id"] == window[tick]["workflow_uuid"], r
    return {"ticks": len(times), "span_sec": (times[-1] - times[0]).total_seconds(),
            "body_reruns_after_recovery": len(reruns), "hosts": sorted({r["host"] for r in side})}


def report(name: str, **numbers: Any) -> None:
    print(f"\n[{name}] " + " ".join(f"{k}={v}" for k, v in numbers.items()))


def test_kill9_of_leading_host_fails_over_and_its_workflow_finishes_elsewhere(
        db: Callable[..., list[dict[str, Any]]], start_host: Callable[..., Host]) -> None:
    workflow_id = f"lh-work-{uuid.uuid4().hex[:8]}"
    host_a = start_host("host-a", 2, LH_HOLD="1", LH_ENQUEUE=workflow_id)
    wait_leader(db, lambda row: row["executor_id"].startswith("host-a/"), 20)
    wait_until(lambda: db("SELECT 1 FROM lh_steps WHERE workflow_id = %s AND step = 2", workflow_id), 15)
    host_b = start_host("host-b", 2)
    wait_workers(db, "host-b", 2)
    wait_ticks_after(db, now_ms(), 5, 10)  # both hosts up for 5 ticks

    killed_ms = now_ms()
    host_a.killpg(signal.SIGKILL)
    new_leader = wait_leader(db, lambda row: row["elected_at"] > killed_ms, 5)
    assert new_leader["executor_id"].startswith("host-b/")
    fired_ms = first_fire_after(db, new_leader["elected_at"] - 1, 5)
    failover_sec = (fired_ms - killed_ms) / 1000
    assert failover_sec <= 3.0, failover_sec

    done = wait_until(lambda: db("SELECT status, output, executor_id, completed_at, recovery_attempts "
                                 "FROM workflow_status WHERE workflow_uuid = %s AND status = 'SUCCESS'",
                                 workflow_id), 4 * LEASE_SEC + 5)[0]
    recovery_sec = (done["completed_at"] - killed_ms) / 1000
    assert done["executor_id"].startswith("host-b/") and done["recovery_attempts"] == 2
    assert recovery_sec <= 2 * LEASE_SEC + 0.5, recovery_sec
    steps = [(r["step"], r["host"]) for r in db("SELECT step, host FROM lh_steps WHERE workflow_id = %s "
                                                "ORDER BY recorded_ms", workflow_id)]
    # Step 1 completed on host-a and is not re-run; step 2 was in flight there, so it runs again.
    assert steps == [(1, "host-a"), (2, "host-a"), (2, "host-b"), (3, "host-b")], steps

    wait_ticks_after(db, killed_ms, 9, 13)
    numbers = check_every_second_once(db)
    assert host_b.popen.poll() is None
    report("kill9", reelected_sec=(new_leader["elected_at"] - killed_ms) / 1000, failover_first_fire_sec=failover_sec,
           workflow_recovered_sec=recovery_sec, lease_sec=LEASE_SEC, **numbers)


def terminate_leader_session(db: Callable[..., list[dict[str, Any]]], hosts: dict[str, Host]) -> dict[str, Any]:
    """pg_terminate_backend on the leader's elector session; returns the measurements."""
    old = wait_leader(db, lambda row: True, 5)
    app = db("SELECT application_name FROM pg_stat_activity WHERE pid = %s", old["backend_pid"])
    assert app == [{"application_name": "dbos_workers:elector"}]
    old_host = hosts[old["executor_id"].split("/")[0]]
    stepped_down = len(old_host.events("leader_stepped_down"))
    cut_ms = now_ms()
    assert db("SELECT pg_terminate_backend(%s) AS ok", old["backend_pid"])[0]["ok"]
    new = wait_leader(db, lambda row: row["elected_at"] > cut_ms, 5)
    fired_ms = first_fire_after(db, new["elected_at"] - 1, 5)
    wait_until(lambda: len(old_host.events("leader_stepped_down")) > stepped_down, 5)
    return {"terminated_leader": old["executor_id"], "new_leader": new["executor_id"],
            "reelected_sec": (new["elected_at"] - cut_ms) / 1000, "resumed_firing_sec": (fired_ms - cut_ms) / 1000}


def freeze_leading_host(db: Callable[..., list[dict[str, Any]]], hosts: dict[str, Host]) -> dict[str, Any]:
    """SIGSTOP the leading host's whole tree until another host fenced it and fired, then SIGCONT."""
    old = wait_leader(db, lambda row: True, 5)
    frozen = hosts[old["executor_id"].split("/")[0]]
    other = next(h for h in hosts.values() if h is not frozen)
    stepped_down = len(frozen.events("leader_stepped_down"))
    stopped_ms = now_ms()
    frozen.killpg(signal.SIGSTOP)
    try:
        new = wait_leader(db, lambda row: not row["executor_id"].startswith(f"{frozen.name}/"),
                          LEASE_SEC + 5)
        fence = wait_until(lambda: other.events("leader_fenced_stale"), 5)[0]
        assert fence["fenced_executor_id"] == old["executor_id"]
        fired_ms = first_fire_after(db, new["elected_at"] - 1, 5)
        wait_ticks_after(db, fired_ms, 2, 5)  # the new leader fires while the old one is frozen
    finally:
        frozen.killpg(signal.SIGCONT)
    resumed_ms = now_ms()
    wait_until(lambda: len(frozen.events("leader_stepped_down")) > stepped_down, 10)
    wait_ticks_after(db, resumed_ms, 2, 5)
    after = leader(db)
    assert after is not None and after["instance_id"] == new["instance_id"], "the resumed leader took over again"
    return {"frozen_leader": old["executor_id"], "new_leader": new["executor_id"],
            "takeover_sec": (new["elected_at"] - stopped_ms) / 1000,
            "first_fire_sec": (fired_ms - stopped_ms) / 1000, "stale_ms_at_fence": fence["stale_ms"],
            "frozen_sec": (resumed_ms - stopped_ms) / 1000,
            "lease_lapsed_skips": len(frozen.events("schedule_lease_lapsed")),
            "stale_workers_killed_on_resume": len(frozen.events("worker_killed_stale"))}


def test_terminated_and_frozen_leaders_hand_over_without_double_fire(
        db: Callable[..., list[dict[str, Any]]], start_host: Callable[..., Host]) -> None:
    hosts = {"host-a": start_host("host-a", 1), "host-b": start_host("host-b", 2)}
    wait_workers(db, "host-a", 1)
    wait_workers(db, "host-b", 2)
    wait_leader(db, lambda row: True, 20)
    wait_ticks_after(db, now_ms(), 3, 10)

    terminated = terminate_leader_session(db, hosts)
    assert terminated["resumed_firing_sec"] <= 5.0, terminated
    frozen = freeze_leading_host(db, hosts)
    assert frozen["takeover_sec"] <= LEASE_SEC + 2.5, frozen

    numbers = check_every_second_once(db)
    report("terminate", **terminated)
    report("freeze", **frozen)
    report("ticks", **numbers)


def faketime_env(offset: str) -> dict[str, str]:
    """Environment that runs a process tree with its wall clock shifted by `offset` ('+30s'):
    libfaketime preloaded from the `libfaketime` wheel (a dev dependency). Debian's faketime
    0.9.10 breaks Python 3.11's timed waits (time.sleep and Event.wait in threads fail with
    EINVAL or hang); the wheel's build with DONT_FAKE_MONOTONIC does not. The monotonic clock
    stays true: durations are not what skew is about. Fails, never skips, when the shift does
    not take effect."""
    import libfaketime

    lib = Path(libfaketime.get_reload_information()[1]["LD_LIBRARY_PATH"]) / "libfaketime.so.1"
    env = {"LD_PRELOAD": str(lib), "FAKETIME": offset, "DONT_FAKE_MONOTONIC": "1",
           "FAKETIME_NO_CACHE": "1"}
    probe = subprocess.run([sys.executable, "-c", "import time; print(time.time())"],
                           env={**os.environ, **env}, capture_output=True, text=True, check=True)
    shift = float(probe.stdout) - time.time()
    expected = float(offset.rstrip("s"))
    assert abs(shift - expected) < 2, f"libfaketime did not shift the clock: {shift:+.1f} s"
    return env


def test_skewed_host_clocks_take_no_work_from_live_hosts(
        db: Callable[..., list[dict[str, Any]]], start_host: Callable[..., Host], tmp_path: Path) -> None:
    """Three hosts share one queue, one 30 s fast and one 30 s slow, nobody killed: no step
    runs twice, the leader is never fenced, no live holder's work is recovered (leases are
    written and compared on the database's clock)."""
    go = tmp_path / "go"
    batch = {"LH_GO": str(go), "LH_THREADS": "8", "LH_STEP_SEC": "1.5"}
    hosts = {"true": start_host("skew-true", 1, LH_BATCH="true:40", **batch)}
    wait_leader(db, lambda row: row["executor_id"].startswith("skew-true/"), 20)
    hosts["fast"] = start_host("skew-fast", 1, faketime_env("+30s"), LH_BATCH="fast:40", **batch)
    hosts["slow"] = start_host("skew-slow", 1, faketime_env("-30s"), LH_BATCH="slow:40", **batch)
    for name in ("skew-true", "skew-fast", "skew-slow"):
        wait_workers(db, name, 1)
    go.touch()

    def finished() -> bool:
        rows = db("SELECT count(*) AS n FROM workflow_status WHERE name LIKE '%%two_slow_steps' "
                  "AND status = 'SUCCESS'")
        return bool(rows[0]["n"] == 120)

    wait_until(finished, 90)
    runs = Counter((r["workflow_id"], r["step"]) for r in db("SELECT workflow_id, step FROM lh_steps"))
    twice = sorted(k for k, n in runs.items() if n > 1)
    ran_on = {r["executor_id"].split("/")[0] for r in db(
        "SELECT DISTINCT executor_id FROM workflow_status WHERE name LIKE '%%two_slow_steps'")}
    fenced = sum(len(h.events("leader_fenced_stale")) for h in hosts.values())
    recovered = sum(len(h.events("dead_holder_work_recovered")) for h in hosts.values())
    attempts = {r["recovery_attempts"] for r in db(
        "SELECT recovery_attempts FROM workflow_status WHERE name LIKE '%%two_slow_steps'")}
    report("clock_skew", steps=sum(runs.values()), ran_twice=len(twice), fenced=fenced,
           recovered_batches=recovered, hosts_ran=sorted(ran_on), attempts=sorted(attempts))
    assert len(runs) == 240 and twice == [], twice
    assert fenced == 0 and recovered == 0 and attempts == {1}
    assert leader(db)["executor_id"].startswith("skew-true/")  # type: ignore[index]
    assert ran_on == {"skew-true", "skew-fast", "skew-slow"}

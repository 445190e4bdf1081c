"""The leader (in a worker process): cron ticks exactly once, DELAYED promotion, deadlines,
and recovery of work whose holder's lease expired."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

import pytest

from dbos_workers import (
    DBOS,
    DBOSAwaitedWorkflowCancelledError,
    DBOSConfigError,
    DBOSException,
    Queue,
    SetEnqueueOptions,
)
from dbos_workers.leader.cron import parse_cron, ticks_between
from tests.helpers import query, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_cron_validation() -> None:
    assert parse_cron("*/5 * * * *") == ("*/5 * * * *", False)
    assert parse_cron("* * * * * *")[1] is True
    for bad in ("* * *", "61 * * * *", "not cron at all", "* * * * * * * *"):
        with pytest.raises(DBOSConfigError):
            parse_cron(bad)

    with pytest.raises(DBOSConfigError):
        @DBOS.scheduled("99 * * * *")
        @DBOS.workflow()
        def never(scheduled: dt.datetime, actual: dt.datetime) -> None: ...


def test_ticks_between_is_bounded_and_ordered() -> None:
    t0 = int(dt.datetime(2026, 3, 29, 0, 59, 58, tzinfo=dt.UTC).timestamp() * 1000)
    ticks = ticks_between("* * * * * *", t0, t0 + 3000)
    assert [t.second for t in ticks] == [59, 0, 1]
    assert len(ticks_between("* * * * * *", t0, t0 + 3_600_000)) == 60


def test_scheduled_workflow_fires_every_second_once(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.scheduled("* * * * * *")
    @DBOS.workflow()
    def every_second(scheduled: dt.datetime, actual: dt.datetime) -> str:
        return scheduled.isoformat()

    launch(worker_processes=2)
    wait_until(lambda: len(query(pg_url, schema, "SELECT 1 FROM workflow_status "
                                 "WHERE name LIKE '%every_second' AND status='SUCCESS'")) >= 4, 15)
    rows = query(pg_url, schema, "SELECT workflow_uuid, output FROM workflow_status WHERE name LIKE '%every_second'")
    ids = [r["workflow_uuid"] for r in rows]
    assert len(ids) == len(set(ids))
    seconds = sorted(dt.datetime.fromisoformat(i.split("-", 2)[2].split("every_second-", 1)[-1]) for i in ids)
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(seconds)}
    assert gaps == {1.0}, gaps  # every second, none twice, none skipped
    leaders = query(pg_url, schema, "SELECT executor_id FROM leader")
    assert len(leaders) == 1 and "/" in leaders[0]["executor_id"]
    current = DBOS.current_leader()
    assert current is not None and current["executor_id"] == leaders[0]["executor_id"]


def test_delayed_workflow_starts_near_due_time(launch: Any, pg_url: str, schema: str) -> None:
    q = Queue("later")

    @DBOS.workflow()
    def stamp() -> float:
        return time.time()

    launch(worker_processes=1)
    enqueued = time.time()
    with SetEnqueueOptions(delay_seconds=1.5):
        handle = q.enqueue(stamp)
    assert handle.get_status().status == "DELAYED"
    started = handle.get_result(timeout=15)
    assert 1.4 <= started - enqueued < 2.5, started - enqueued  # within a second of due


def test_deadline_cancels_queued_workflow(launch: Any) -> None:
    from dbos_workers import SetWorkflowTimeout

    q = Queue("slowq")

    @DBOS.workflow()
    def long_one() -> None:
        for _ in range(100):
            DBOS.sleep(0.1)

    launch(worker_processes=1)
    with SetWorkflowTimeout(0.5):
        handle = q.enqueue(long_one)
    with pytest.raises(DBOSAwaitedWorkflowCancelledError):
        handle.get_result(timeout=15)


def test_dead_holder_work_is_recovered(launch: Any, pg_url: str, schema: str) -> None:
    """A PENDING row whose holder's lease expired (a dead host) is re-enqueued and finished."""
    q = Queue("hostq")

    @DBOS.workflow()
    def job(x: int) -> int:
        return x * 3

    launch(worker_processes=1, executor_lease_sec=1)
    handle = q.enqueue(job, 5)
    assert handle.get_result(timeout=10) == 15
    # Make a copy of it look like it was running on a host that died 10 s ago.
    past = int(time.time() * 1000) - 10_000
    query(pg_url, schema, "INSERT INTO executors VALUES ('ghost', 'otherhost/0', 'otherhost', 1, 'worker', %s, %s, NULL)", past, past)
    query(pg_url, schema, "INSERT INTO workflow_status (workflow_uuid, status, name, inputs, queue_name, executor_id, "
          "owner_token, owner_instance, recovery_attempts, created_at, updated_at) SELECT 'orphan', 'PENDING', name, inputs, "
          "queue_name, 'otherhost/0', 'tok', 'ghost', 1, %s, %s FROM workflow_status WHERE workflow_uuid = %s",
          past, past, handle.workflow_id)
    assert DBOS.retrieve_workflow("orphan").get_result(timeout=10) == 15
    status = DBOS.get_workflow_status("orphan")
    assert status is not None and status.recovery_attempts == 2 and status.executor_id != "otherhost/0"


def test_create_list_pause_resume_delete_schedule(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    def report(scheduled: dt.datetime, context: Any) -> str:
        return f"{context['team']}@{scheduled.isoformat()}"

    launch(worker_processes=1)
    with pytest.raises(DBOSConfigError):
        DBOS.create_schedule(schedule_name="bad", workflow_fn=report, schedule="70 * * * *")
    with pytest.raises(DBOSConfigError, match="time zone"):
        DBOS.create_schedule(schedule_name="bad", workflow_fn=report, schedule="* * * * *",
                             cron_timezone="Mars/Olympus")
    DBOS.create_schedule(schedule_name="every-sec", workflow_fn=report, schedule="* * * * * *",
                         context={"team": "ops"}, cron_timezone="Europe/Paris")
    with pytest.raises(DBOSException, match="already exists"):  # as DBOS: apply_schedules upserts
        DBOS.create_schedule(schedule_name="every-sec", workflow_fn=report, schedule="* * * * * *",
                             context={"team": "ops"}, cron_timezone="Europe/Paris")
    [listed] = DBOS.list_schedules(schedule_name_prefix="every")
    assert (listed["status"], listed["context"], listed["cron_timezone"]) == ("ACTIVE", {"team": "ops"}, "Europe/Paris")

    def fired() -> list[dict[str, Any]]:
        return query(pg_url, schema, "SELECT workflow_uuid, output, status FROM workflow_status "
                     "WHERE workflow_uuid LIKE 'sched-every-sec-%%' ORDER BY workflow_uuid")

    wait_until(lambda: len([r for r in fired() if r["status"] == "SUCCESS"]) >= 2, 15)
    # Ticks are in the schedule's zone: the id carries Paris's offset.
    assert all(r["workflow_uuid"].endswith(("+01:00", "+02:00")) for r in fired())
    DBOS.pause_schedule("every-sec")
    time.sleep(2.5)  # reload interval of the leader's schedule cache, not synchronization
    paused_count = len(fired())
    time.sleep(1.5)  # a paused schedule must stay silent over this window
    assert len(fired()) == paused_count
    DBOS.resume_schedule("every-sec")
    wait_until(lambda: len(fired()) > paused_count, 10)
    DBOS.delete_schedule("every-sec")
    assert DBOS.list_schedules() == [] and DBOS.get_schedule("every-sec") is None


def test_ticks_follow_dst_in_the_schedule_zone() -> None:
    def iso(expr: str, start: dt.datetime, end: dt.datetime, tz: str | None = "Europe/Paris") -> list[str]:
        ms = [int(x.timestamp() * 1000) for x in (start, end)]
        return [t.isoformat() for t in ticks_between(expr, ms[0], ms[1], tz)]

    # Spring forward: 02:30 does not exist on 2026-03-29 in Paris; it fires once, at 03:00.
    spring = (dt.datetime(2026, 3, 28, 12, tzinfo=dt.UTC), dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC))
    assert iso("30 2 * * *", *spring) == [
        "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"]
    # Fall back: 02:30 happens twice on 2026-10-25; a daily job still fires once that day.
    fall = (dt.datetime(2026, 10, 24, 12, tzinfo=dt.UTC), dt.datetime(2026, 10, 26, 12, tzinfo=dt.UTC))
    assert iso("30 2 * * *", *fall) == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    # ... also when the two calls straddle the repeated hour (the leader fires incrementally).
    first = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # 02:30+02:00
    assert iso("30 2 * * *", first, dt.datetime(2026, 10, 25, 3, tzinfo=dt.UTC)) == []
    # An hourly job follows real time: the repeated hour has its own tick.
    assert iso("0 * * * *", dt.datetime(2026, 10, 24, 23, 30, tzinfo=dt.UTC),
               dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)) == [
        "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"]
    # In UTC the same expression fires every day at 02:30 UTC.
    assert len(iso("30 2 * * *", *spring, tz=None)) == 3


def test_retention_prunes_finished_workflows(launch: Any, pg_url: str, schema: str) -> None:
    from dbos_workers.leader.maintenance import Maintenance

    @DBOS.workflow()
    def done(x: int) -> int:
        DBOS.set_event("k", x)
        return x

    dbos = launch(workflow_retention_sec=3600)
    for i in range(3):
        done(i)
    hour_ago = int(time.time() * 1000) - 2 * 3600 * 1000
    query(pg_url, schema, "UPDATE workflow_status SET completed_at = %s WHERE workflow_uuid IN "
          "(SELECT workflow_uuid FROM workflow_status ORDER BY created_at LIMIT 2)", hour_ago)
    assert Maintenance(dbos._rt()).prune(int(time.time() * 1000)) == 2
    assert query(pg_url, schema, "SELECT count(*) AS c FROM workflow_status")[0]["c"] == 1
    assert query(pg_url, schema, "SELECT count(*) AS c FROM operation_outputs")[0]["c"] == 1
    assert query(pg_url, schema, "SELECT count(*) AS c FROM workflow_events")[0]["c"] == 1

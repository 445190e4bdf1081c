"""DBOS 3.4's schedule API: WorkflowSchedule as DBOS returns it (a dict), create/list/get
errors and filters, apply_schedules (atomic upsert keeping id, status and last tick),
backfill_schedule and trigger_schedule (same ids as the leader's ticks)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dbos_workers import DBOS, DBOSException, Queue, SetWorkflowID
from tests.helpers import query, wait_until

pytestmark = pytest.mark.integration

KEYS = {"schedule_id", "schedule_name", "workflow_name", "workflow_class_name", "schedule", "status",
        "context", "last_fired_at", "automatic_backfill", "cron_timezone", "queue_name",
        "application_name", "shard_key"}
FAR = "0 3 29 2 *"  # 29 February at 03:00: never fires during a test


def test_create_get_list_and_their_errors(launch: Any) -> None:
    @DBOS.workflow()
    def job(scheduled: dt.datetime, ctx: Any) -> None: ...

    @DBOS.workflow()
    def other(scheduled: dt.datetime, ctx: Any) -> None: ...

    launch()
    DBOS.create_schedule(schedule_name="test-schedule", workflow_fn=job, schedule="* * * * *",
                         context={"env": "test"}, cron_timezone="America/New_York")
    [listed] = DBOS.list_schedules()
    got = DBOS.get_schedule("test-schedule")
    assert got == listed and set(got) == KEYS
    assert isinstance(got["schedule_id"], str) and got["schedule_id"]
    assert {k: v for k, v in got.items() if k != "schedule_id"} == {
        "schedule_name": "test-schedule", "workflow_name": job.__qualname__, "workflow_class_name": None,
        "schedule": "* * * * *", "status": "ACTIVE", "context": {"env": "test"}, "last_fired_at": None,
        "automatic_backfill": False, "cron_timezone": "America/New_York", "queue_name": None,
        "application_name": "test-app", "shard_key": None}
    assert DBOS.get_schedule("nonexistent") is None

    for kwargs, words in [({"schedule": "not a cron"}, "Invalid cron schedule: 'not a cron'"),
                          ({"schedule": "0 0 * * *"}, "Schedule 'test-schedule' already exists"),
                          ({"schedule": "* * * * *", "cron_timezone": "Fake/Zone"}, "Invalid timezone: 'Fake/Zone'"),
                          ({"schedule": "* * * * *", "queue_name": "nope"}, "Queue 'nope' is not declared")]:
        with pytest.raises(DBOSException, match=words):
            DBOS.create_schedule(schedule_name="test-schedule", workflow_fn=job, **kwargs)

    DBOS._rt().registry.workflows.pop(other.__qualname__)  # a workflow this process no longer has
    with pytest.raises(DBOSException, match=f"Workflow function '{other.__qualname__}' is not registered"):
        DBOS.create_schedule(schedule_name="other-schedule", workflow_fn=other, schedule="0 0 * * *")
    DBOS.workflow()(other.__wrapped__)  # type: ignore[attr-defined]
    DBOS.create_schedule(schedule_name="other-schedule", workflow_fn=other, schedule="0 0 * * *")
    DBOS.pause_schedule("other-schedule")
    DBOS.pause_schedule("no-such-schedule")  # a no-op, as DBOS
    names = lambda **f: [s["schedule_name"] for s in DBOS.list_schedules(**f)]  # noqa: E731
    assert names(status="ACTIVE") == ["test-schedule"] and names(status="PAUSED") == ["other-schedule"]
    assert names(status=["ACTIVE", "PAUSED"]) == ["other-schedule", "test-schedule"]
    assert names(status="NONEXISTENT") == []
    assert names(workflow_name=[job.__qualname__, other.__qualname__]) == ["other-schedule", "test-schedule"]
    assert names(schedule_name_prefix=["test-", "other-"]) == ["other-schedule", "test-schedule"]
    assert names(status="PAUSED", schedule_name_prefix="test-") == []
    assert names(application_name="another-app") == []
    DBOS.delete_schedule("other-schedule")
    DBOS.delete_schedule("test-schedule")
    DBOS.delete_schedule("test-schedule")  # a no-op
    assert DBOS.list_schedules() == []


def test_schedule_calls_in_a_workflow_are_operations(launch: Any) -> None:
    @DBOS.workflow()
    def target(scheduled: dt.datetime, ctx: Any) -> None: ...

    @DBOS.workflow()
    def crud() -> None:
        DBOS.create_schedule(schedule_name="wf-schedule", workflow_fn=target, schedule=FAR,
                             context={"from": "workflow"})
        assert [s["context"] for s in DBOS.list_schedules()] == [{"from": "workflow"}]
        assert DBOS.get_schedule("wf-schedule") is not None
        DBOS.pause_schedule("wf-schedule")
        DBOS.resume_schedule("wf-schedule")
        DBOS.delete_schedule("wf-schedule")
        assert DBOS.get_schedule("wf-schedule") is None
        for refused in (lambda: DBOS.apply_schedules([]), lambda: DBOS.trigger_schedule("x"),
                        lambda: DBOS.backfill_schedule("x", dt.datetime.now(), dt.datetime.now())):
            with pytest.raises(DBOSException, match="cannot be called from within a workflow"):
                refused()

    launch()
    with SetWorkflowID("crud"):
        crud()
    assert [s["function_name"] for s in DBOS.list_workflow_steps("crud")] == [
        "DBOS.createSchedule", "DBOS.listSchedules", "DBOS.getSchedule", "DBOS.pauseSchedule",
        "DBOS.resumeSchedule", "DBOS.deleteSchedule", "DBOS.getSchedule"]


def test_apply_schedules_upserts_atomically_and_keeps_runtime_state(launch: Any, pg_url: str,
                                                                     schema: str) -> None:
    @DBOS.workflow()
    def wf_a(scheduled: dt.datetime, ctx: Any) -> None: ...

    launch()
    DBOS.apply_schedules([
        {"schedule_name": "sched-a", "workflow_fn": wf_a, "schedule": FAR, "context": {"region": "us"}},
        {"schedule_name": "sched-b", "workflow_fn": wf_a, "schedule": "0 0 * * *", "automatic_backfill": True,
         "cron_timezone": "Europe/London"}])
    by_name = {s["schedule_name"]: s for s in DBOS.list_schedules()}
    assert (by_name["sched-a"]["context"], by_name["sched-a"]["automatic_backfill"]) == ({"region": "us"}, False)
    assert (by_name["sched-b"]["context"], by_name["sched-b"]["automatic_backfill"],
            by_name["sched-b"]["cron_timezone"]) == (None, True, "Europe/London")
    ids = {n: s["schedule_id"] for n, s in by_name.items()}

    DBOS.pause_schedule("sched-a")
    tick = int(dt.datetime(2020, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    query(pg_url, schema, "UPDATE workflow_schedules SET last_fired_at = %s WHERE schedule_name = 'sched-a'", tick)
    DBOS.apply_schedules([
        {"schedule_name": "sched-a", "workflow_fn": wf_a, "schedule": "0 * * * *", "context": None},
        {"schedule_name": "sched-c", "workflow_fn": wf_a, "schedule": "*/5 * * * *", "context": [1, 2, 3]}])
    a = DBOS.get_schedule("sched-a")
    assert a is not None and (a["schedule_id"], a["status"], a["last_fired_at"], a["schedule"], a["context"]) == (
        ids["sched-a"], "PAUSED", "2020-01-01T00:00:00+00:00", "0 * * * *", None)
    assert len(DBOS.list_schedules()) == 3

    # All or none: one bad entry applies nothing.
    for entry, words in [({"workflow_fn": wf_a, "schedule": FAR}, "missing required field 'schedule_name'"),
                         ({"schedule_name": "x", "schedule": FAR}, "missing required field 'workflow_fn'"),
                         ({"schedule_name": "x", "workflow_fn": wf_a}, "missing required field 'schedule'"),
                         ({"schedule_name": "x", "workflow_fn": wf_a, "schedule": "bad"}, "Invalid cron schedule")]:
        with pytest.raises(DBOSException, match=words):
            DBOS.apply_schedules([{"schedule_name": "sched-d", "workflow_fn": wf_a, "schedule": FAR},
                                  entry])  # type: ignore[list-item]
    assert DBOS.get_schedule("sched-d") is None

    # Concurrent applies of one schedule: one row, no error.
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def apply_shared() -> None:
        barrier.wait(10)
        try:
            DBOS.apply_schedules([{"schedule_name": "shared", "workflow_fn": wf_a, "schedule": FAR}])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=apply_shared) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [] and len(DBOS.list_schedules(schedule_name_prefix="shared")) == 1


def test_backfill_trigger_and_last_fired_at(launch: Any, pg_url: str, schema: str) -> None:
    q = Queue("sched-q")

    @DBOS.workflow()
    def hourly(scheduled: dt.datetime, ctx: Any) -> list[Any]:
        return [scheduled.isoformat(), ctx]

    launch(worker_processes=1)
    DBOS.create_schedule(schedule_name="backfill-test", workflow_fn=hourly, schedule="0 * * * *",
                         context={"env": "backfill"}, queue_name=q.name)
    start = dt.datetime(2025, 1, 1, 0, 30, tzinfo=dt.UTC)
    handles = DBOS.backfill_schedule("backfill-test", start, start + dt.timedelta(hours=3))
    ticks = [f"2025-01-01T0{h}:00:00+00:00" for h in (1, 2, 3)]
    assert [h.workflow_id for h in handles] == [f"sched-backfill-test-{t}" for t in ticks]
    assert [h.get_result(timeout=20) for h in handles] == [[t, {"env": "backfill"}] for t in ticks]
    assert {h.get_status().queue_name for h in handles} == {"sched-q"}
    # Idempotent (the same ids); naive datetimes are UTC; the end is exclusive.
    again = DBOS.backfill_schedule("backfill-test", dt.datetime(2025, 1, 1, 0, 30), dt.datetime(2025, 1, 1, 3))
    assert [h.workflow_id for h in again] == [h.workflow_id for h in handles[:2]]
    assert query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status "
                 "WHERE workflow_uuid LIKE 'sched-backfill-test-%%'") == [{"n": 3}]
    with pytest.raises(DBOSException, match="Schedule 'no-such' does not exist"):
        DBOS.backfill_schedule("no-such", start, start)

    # The schedule's zone: midnight in New York is 05:00 UTC.
    DBOS.create_schedule(schedule_name="tz-ny", workflow_fn=hourly, schedule="0 0 * * *",
                         cron_timezone="America/New_York")
    ny = DBOS.backfill_schedule("tz-ny", dt.datetime(2024, 12, 31, 23, tzinfo=dt.UTC),
                                dt.datetime(2025, 1, 3, tzinfo=dt.UTC))
    assert [h.get_result(timeout=20)[0] for h in ny] == ["2025-01-01T00:00:00-05:00", "2025-01-02T00:00:00-05:00"]

    before = dt.datetime.now(dt.UTC)
    handle = DBOS.trigger_schedule("backfill-test")
    assert handle.workflow_id.startswith("sched-backfill-test-trigger-")
    fired_at, ctx = handle.get_result(timeout=20)
    assert before - dt.timedelta(milliseconds=5) <= dt.datetime.fromisoformat(fired_at) <= dt.datetime.now(dt.UTC)
    assert ctx == {"env": "backfill"}
    with pytest.raises(DBOSException, match="does not exist"):
        DBOS.trigger_schedule("no-such")

    # The leader fires; last_fired_at is the last tick, in the schedule's zone.
    DBOS.create_schedule(schedule_name="every-second", workflow_fn=hourly, schedule="* * * * * *",
                         cron_timezone="America/New_York")
    fired = wait_until(lambda: (DBOS.get_schedule("every-second") or {}).get("last_fired_at"), 15)
    last = dt.datetime.fromisoformat(fired)
    assert last.utcoffset() == dt.datetime.now(ZoneInfo("America/New_York")).utcoffset()
    assert last.microsecond == 0 and last <= dt.datetime.now(dt.UTC)
    DBOS.delete_schedule("every-second")

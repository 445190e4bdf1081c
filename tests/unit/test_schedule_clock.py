"""Resuming a paused schedule restarts its clock (as DBOS: a resumed schedule fires from
now), unless it backfills (as DBOS: it catches up from its last tick fired)."""

from __future__ import annotations

import dataclasses

from dbos_workers.db.records import ScheduleRecord
from dbos_workers.leader.cron import Cron
from dbos_workers.registry import Registry, WorkflowInfo
from dbos_workers.serialization import PickleSerializer
from tests.unit.fakes import FakeClock, FakeDatabase, fake_runtime

T0 = 1_800_000_000_000  # a whole second


def _cron(backfill: bool) -> tuple[Cron, FakeDatabase, FakeClock]:
    registry = Registry()
    registry.workflows["job"] = WorkflowInfo("job", lambda tick, ctx: None, None, __name__)
    db, clock = FakeDatabase(), FakeClock(T0)
    db.schedules.records.append(ScheduleRecord(
        "every-second", "job", "* * * * * *", "ACTIVE", "dynamic", PickleSerializer().serialize(None),
        backfill, None, None, T0, T0, "sid", None, "unit-test", None))
    return Cron(fake_runtime(registry, db, clock, role="worker")), db, clock


def _resumed_at(db: FakeDatabase, ms: int) -> None:
    db.schedules.records[0] = dataclasses.replace(db.schedules.records[0], resumed_at=ms)


def test_a_resumed_schedule_does_not_fire_the_ticks_of_its_pause() -> None:
    cron, db, clock = _cron(backfill=False)
    clock.advance(20)  # paused from T0 (last tick fired) to T0 + 15 s
    _resumed_at(db, T0 + 15_000)
    assert cron.fire_due() == 5  # T0+16 .. T0+20 only (the failover window would allow 20)


def test_a_resumed_backfilling_schedule_catches_up_from_its_last_tick() -> None:
    cron, db, clock = _cron(backfill=True)
    clock.advance(20)
    _resumed_at(db, T0 + 15_000)
    assert cron.fire_due() == 20

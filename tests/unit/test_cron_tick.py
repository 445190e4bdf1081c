"""The leader's cron tick over the in-memory store and a settable clock: each tick is
inserted once under its deterministic id, missed ticks fire late once, a lapsed lease fires
nothing."""

from __future__ import annotations

import datetime as dt

from dbos_workers.db.records import ScheduleRecord
from dbos_workers.leader.cron import Cron
from dbos_workers.registry import Registry, WorkflowInfo
from dbos_workers.serialization import PickleSerializer
from tests.unit.fakes import FakeClock, FakeDatabase, fake_runtime

T0 = 1_800_000_000_000  # a whole second


def _cron(backfill: bool = False) -> tuple[Cron, FakeDatabase, FakeClock]:
    registry = Registry()
    registry.workflows["job"] = WorkflowInfo("job", lambda tick, ctx: None, None, __name__)
    db, clock = FakeDatabase(), FakeClock(T0)
    db.schedules.records.append(ScheduleRecord(
        "every-second", "job", "* * * * * *", "ACTIVE", "dynamic", PickleSerializer().serialize("ctx"),
        backfill, None, None, T0, T0))
    return Cron(fake_runtime(registry, db, clock, role="worker")), db, clock


def _tick_ids(db: FakeDatabase) -> list[str]:
    return sorted(db.workflows.inserted)


def test_each_due_tick_is_inserted_once_under_its_deterministic_id() -> None:
    cron, db, clock = _cron()
    clock.advance(3.5)
    assert cron.fire_due() == 3
    iso = [dt.datetime.fromtimestamp(T0 / 1000 + k, tz=dt.UTC).isoformat() for k in (1, 2, 3)]
    assert _tick_ids(db) == [f"sched-every-second-{t}" for t in iso]
    assert {w.queue_name for w in db.workflows.inserted.values()} == {"_dbos_internal_queue"}
    assert cron.fire_due() == 0  # nothing new is due at the same time
    clock.advance(1.0)
    assert cron.fire_due() == 1 and len(db.workflows.inserted) == 4
    assert [t for _, t in db.schedules.fired_ticks] == [T0 + k * 1000 for k in (1, 2, 3, 4)]


def test_a_lapsed_lease_fires_nothing() -> None:
    cron, db, clock = _cron()
    clock.advance(2.5)
    assert cron.fire_due(lease_valid=lambda: False) == 0
    assert db.workflows.inserted == {}


def test_without_backfill_only_a_failover_window_of_missed_ticks_fires() -> None:
    cron, db, clock = _cron()
    assert db.workflows.inserted == {}
    clock.advance(3600)  # an hour with no leader
    fired = cron.fire_due()
    window = cron.failover_window_ms // 1000
    assert fired == window  # the last `window` seconds' ticks, late, once each
    assert cron.fire_due() == 0


def test_a_new_term_refires_only_under_the_same_ids() -> None:
    """A new leader re-reads where schedules stand; a tick fired by the old one (the store
    still says otherwise here) is inserted under the same id, so it does not run twice."""
    cron, db, clock = _cron()
    clock.advance(2.5)
    assert cron.fire_due() == 2
    cron.reset()
    clock.advance(1.0)
    assert cron.fire_due() == 3  # ticks 1 and 2 again, and 3
    assert len(db.workflows.inserted) == 3

"""An in-memory system database and a settable clock, for unit tests of the logic above db/
(claimer, executor, cron) without Postgres. Only what those tests touch is implemented."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from dbos_workers.clock import Clock
from dbos_workers.config import build_settings
from dbos_workers.db.records import (
    Checkpoint,
    ClaimedWorkflow,
    Completion,
    Inserted,
    NewWorkflow,
    Ownership,
    ScheduleRecord,
    StepRecord,
)
from dbos_workers.registry import Registry
from dbos_workers.runtime import Runtime
from dbos_workers.serialization import PickleSerializer


class FakeClock(Clock):
    def __init__(self, now_ms: int = 1_800_000_000_000) -> None:
        self.ms, self.mono = now_ms, 1000.0

    def now_ms(self) -> int:
        return self.ms

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)
        self.mono += seconds


class FakeWorkflows:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queued: list[ClaimedWorkflow] = []
        self.inserted: dict[str, NewWorkflow] = {}
        self.completed: list[Completion] = []
        self.fail_completions = False
        self.claims: list[int] = []  # rows per claim statement
        self.parked: list[ClaimedWorkflow] = []

    def add_queued(self, workflow_id: str, name: str, queue: str = "q", args: tuple[Any, ...] = ()) -> None:
        inputs = PickleSerializer().serialize({"args": args, "kwargs": {}})
        self.queued.append(ClaimedWorkflow(workflow_id, "token", name, None, None, inputs, queue,
                                           1, None, None, False))

    def claim(self, queues: list[str], n: int, *, names: list[str], **_: Any) -> tuple[
            list[ClaimedWorkflow], list[str]]:
        """As the claim statement: the head n rows of the queues; unknown names are parked."""
        with self.lock:
            picked = [w for w in self.queued if w.queue_name in queues][:n]
            for w in picked:
                self.queued.remove(w)
            claimed = [w for w in picked if w.name in names]
            self.parked += [w for w in picked if w.name not in names]
            self.claims.append(len(claimed))
            return claimed, sorted({w.name for w in picked if w.name not in names})

    def claim_limited(self, queue: str, n: int, *, names: list[str], **_: Any) -> list[ClaimedWorkflow]:
        with self.lock:
            picked = [w for w in self.queued if w.queue_name == queue and w.name in names][:n]
            for w in picked:
                self.queued.remove(w)
            return picked

    def claim_named(self, queues: list[str], n: int, *, names: list[str], include: bool = True,
                    **_: Any) -> list[ClaimedWorkflow]:
        """The async lane's claim: rows whose name is (include) or is not in `names`."""
        with self.lock:
            rows = [w for w in self.queued if w.queue_name in queues and (w.name in names) == include][:n]
            for w in rows:
                self.queued.remove(w)
            return rows

    def claim_parked(self, names: list[str], queues: list[str], n: int, **_: Any) -> list[ClaimedWorkflow]:
        with self.lock:
            picked = [w for w in self.parked if w.name in names and w.queue_name in queues][:n]
            for w in picked:
                self.parked.remove(w)
            return picked

    def complete(self, batch: Sequence[Completion]) -> None:
        if self.fail_completions:
            raise RuntimeError("the database is gone")
        with self.lock:
            self.completed.extend(batch)

    def enqueue(self, batch: Sequence[tuple[NewWorkflow, bool]]) -> list[Inserted | None]:
        return [self.insert(new, notify=notify) for new, notify in batch]

    def insert(self, new: NewWorkflow, *, notify: bool) -> Inserted:
        with self.lock:
            fresh = new.workflow_id not in self.inserted
            self.inserted.setdefault(new.workflow_id, new)
            return Inserted(fresh, new.status, self.inserted[new.workflow_id].name, None, None)

    def held_by(self, executor_id: str, instance_id: str) -> list[str]:
        return []

    def requeue(self, workflow_ids: list[str], **_: Any) -> list[str]:
        return []


class FakeSteps:
    def recorded(self, workflow_id: str) -> list[StepRecord]:
        return []

    def record(self, batch: Sequence[Checkpoint]) -> list[Ownership | None]:
        return [Ownership("PENDING", c.owner_token, True) for c in batch]


class FakeSchedules:
    def __init__(self, *records: ScheduleRecord) -> None:
        self.records = list(records)
        self.fired_ticks: list[tuple[str, int]] = []

    def find(self, **_: Any) -> list[ScheduleRecord]:
        return list(self.records)

    def fired(self, name: str, tick_ms: int) -> None:
        self.fired_ticks.append((name, tick_ms))

    def register(self, *_: Any) -> None:
        pass


class FakeQueues:
    def __init__(self) -> None:
        self.rows: list[Any] = []  # QueueSettings rows of the application

    def wake(self, queue: str) -> None:
        pass

    def find(self, application_names: list[str]) -> list[Any]:
        return list(self.rows)


class FakeDatabase:
    def __init__(self) -> None:
        self.workflows = FakeWorkflows()
        self.steps = FakeSteps()
        self.schedules = FakeSchedules()
        self.queues = FakeQueues()

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass


def fake_runtime(registry: Registry, db: FakeDatabase | None = None, clock: Clock | None = None,
                 threads: int = 4, role: str = "worker") -> Runtime:
    """A Runtime over the fake store: nothing connects (the listener is never started)."""
    settings = build_settings({"name": "unit-test", "system_database_url": "postgresql://unused/unit",
                               "worker_processes": 1, "worker_threads": threads})
    return Runtime(settings=settings, registry=registry, conninfo="postgresql://unused/unit",
                   executor_id="unit/0", role=role, pool_size=2, threads=threads,
                   clock=clock or FakeClock(), store=db or FakeDatabase())  # type: ignore[arg-type]

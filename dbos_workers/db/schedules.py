"""workflow_schedules: schedules declared with @DBOS.scheduled and stored ones (DBOS 3.x)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .records import ScheduleRecord
from .store import Store, columns


@dataclass(frozen=True, slots=True)
class ScheduleDefinition:
    """A stored schedule to create or replace (context already serialized)."""

    schedule_id: str
    name: str
    workflow_name: str
    workflow_class_name: str | None
    schedule: str
    context: str
    automatic_backfill: bool
    cron_timezone: str | None
    queue_name: str | None


_APPLY = {"schedule_ids": "schedule_id", "names": "name", "workflow_names": "workflow_name",
          "class_names": "workflow_class_name", "schedules": "schedule", "contexts": "context",
          "backfills": "automatic_backfill", "timezones": "cron_timezone", "queue_names": "queue_name"}


class ScheduleStore(Store):
    def register(self, name: str, workflow_name: str, schedule: str, application_name: str | None = None) -> None:
        """A decorator schedule (re-registered by every pool at start)."""
        self.repo.run("schedule_register", name=name, workflow_name=workflow_name,
                      schedule=schedule, now_ms=self.now_ms(), application_name=application_name)

    def create(self, d: ScheduleDefinition, application_name: str | None) -> bool:
        """Store a schedule; False when one of that name exists already."""
        row = self.repo.one("schedule_create", schedule_id=d.schedule_id, name=d.name,
                            workflow_name=d.workflow_name, workflow_class_name=d.workflow_class_name,
                            schedule=d.schedule, context=d.context, automatic_backfill=d.automatic_backfill,
                            cron_timezone=d.cron_timezone, queue_name=d.queue_name,
                            application_name=application_name, now_ms=self.now_ms())
        return row is not None

    def apply(self, definitions: Sequence[ScheduleDefinition], application_name: str | None) -> None:
        """Create or replace every definition in one statement (all or none)."""
        self.repo.run("schedule_apply", **columns(definitions, _APPLY),
                      application_name=application_name, now_ms=self.now_ms())

    def get(self, name: str) -> ScheduleRecord | None:
        row = self.repo.one("schedule_get", name=name)
        return None if row is None else ScheduleRecord.of(row)

    def find(self, *, status: str | list[str] | None = None, workflow_name: str | list[str] | None = None,
             prefix: str | list[str] | None = None,
             application_name: str | list[str] | None = None) -> list[ScheduleRecord]:
        rows = self.repo.all("schedule_list", statuses=_listed(status), workflow_names=_listed(workflow_name),
                             prefixes=_listed(prefix), applications=_listed(application_name))
        return [ScheduleRecord.of(r) for r in rows]

    def set_status(self, name: str, status: str) -> bool:
        """Pause or resume (resuming a paused schedule restarts its clock); False when no such
        schedule."""
        return self.repo.run("schedule_set_status", name=name, status=status, now_ms=self.now_ms()) > 0

    def delete(self, name: str) -> None:
        self.repo.run("schedule_delete", name=name)

    def fired(self, name: str, tick_ms: int) -> None:
        self.repo.run("schedule_fired", name=name, tick_ms=tick_ms)


def _listed(value: str | list[str] | None) -> list[str] | None:
    return [value] if isinstance(value, str) else value

"""workflow_schedules: schedules declared with @DBOS.scheduled and stored ones (DBOS 3.x)."""

from __future__ import annotations

from .records import ScheduleRecord
from .store import Store


class ScheduleStore(Store):
    def register(self, name: str, workflow_name: str, schedule: str) -> None:
        """A decorator schedule (re-registered by every pool at start)."""
        self.repo.run("schedule_register", name=name, workflow_name=workflow_name,
                      schedule=schedule, now_ms=self.now_ms())

    def create(self, *, name: str, workflow_name: str, schedule: str, context: str,
               automatic_backfill: bool, cron_timezone: str | None, queue_name: str | None) -> bool:
        """Store a schedule; False when one of that name exists already."""
        row = self.repo.one("schedule_create", name=name, workflow_name=workflow_name,
                            schedule=schedule, context=context, automatic_backfill=automatic_backfill,
                            cron_timezone=cron_timezone, queue_name=queue_name, now_ms=self.now_ms())
        return row is not None

    def get(self, name: str) -> ScheduleRecord | None:
        row = self.repo.one("schedule_get", name=name)
        return None if row is None else ScheduleRecord.of(row)

    def find(self, *, status: str | None = None, workflow_name: str | None = None,
             prefix: str | None = None) -> list[ScheduleRecord]:
        rows = self.repo.all("schedule_list", status=status, workflow_name=workflow_name, prefix=prefix)
        return [ScheduleRecord.of(r) for r in rows]

    def set_status(self, name: str, status: str) -> bool:
        """Pause or resume (resuming restarts its clock); False when no such schedule."""
        return self.repo.run("schedule_set_status", name=name, status=status, now_ms=self.now_ms()) > 0

    def delete(self, name: str) -> None:
        self.repo.run("schedule_delete", name=name)

    def fired(self, name: str, tick_ms: int) -> None:
        self.repo.run("schedule_fired", name=name, tick_ms=tick_ms)

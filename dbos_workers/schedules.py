"""DBOS 3.x stored schedules: create, list, get, pause, resume, delete. The leader fires them
(see leader/cron.py); the workflow runs as `(scheduled_time, context)`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .db.records import ScheduleRecord
from .errors import DBOSConfigError, DBOSConflictingWorkflowError, DBOSWorkersError
from .leader.cron import parse_cron, parse_timezone
from .registry import WorkflowInfo
from .runtime import Runtime


@dataclass(frozen=True)
class WorkflowSchedule:
    schedule_name: str
    workflow_name: str
    schedule: str
    status: str
    context: Any
    automatic_backfill: bool
    cron_timezone: str | None
    queue_name: str | None
    last_fired_at: int | None


def _schedule(rt: Runtime, row: ScheduleRecord) -> WorkflowSchedule:
    context = None if row.context is None else rt.serializer.deserialize(row.context)
    return WorkflowSchedule(row.name, row.workflow_name, row.schedule, row.status, context,
                            row.automatic_backfill, row.cron_timezone, row.queue_name,
                            row.last_fired_at)


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name or "\x00" in name or len(name) > 255:
        raise DBOSConfigError(f"schedule_name must be a non-empty string (<= 255 chars), got {name!r}")
    return name


def create(rt: Runtime, info: WorkflowInfo, *, schedule_name: str, schedule: str, context: Any,
           automatic_backfill: bool, cron_timezone: str | None, queue_name: str | None) -> None:
    name = _check_name(schedule_name)
    parse_cron(schedule)
    parse_timezone(cron_timezone)
    if queue_name is not None and queue_name not in rt.registry.queues:
        raise DBOSConfigError(f"queue {queue_name!r} is not registered")
    ctx = rt.serializer.serialize(context)
    if rt.db.schedules.create(name=name, workflow_name=info.name, schedule=schedule, context=ctx,
                              automatic_backfill=bool(automatic_backfill),
                              cron_timezone=cron_timezone, queue_name=queue_name):
        return
    existing = rt.db.schedules.get(name)
    same = existing is not None and (existing.workflow_name, existing.schedule,
                                     existing.cron_timezone, existing.queue_name) == (
        info.name, schedule, cron_timezone, queue_name)
    if not same:  # creating the same schedule again (every app start) is a no-op
        raise DBOSConflictingWorkflowError(name, "a different schedule with this name exists; "
                                           "delete_schedule() it first")


def get(rt: Runtime, name: str) -> WorkflowSchedule | None:
    row = rt.db.schedules.get(name)
    return None if row is None else _schedule(rt, row)


def list_all(rt: Runtime, status: str | None, workflow_name: str | None,
             prefix: str | None) -> list[WorkflowSchedule]:
    rows = rt.db.schedules.find(status=status, workflow_name=workflow_name, prefix=prefix)
    return [_schedule(rt, r) for r in rows]


def set_status(rt: Runtime, name: str, status: str) -> None:
    if not rt.db.schedules.set_status(name, status):
        raise DBOSWorkersError(f"no schedule named {name!r}")


def delete(rt: Runtime, name: str) -> None:
    rt.db.schedules.delete(name)

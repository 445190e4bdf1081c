"""DBOS 3.x stored schedules: create, apply, list, get, pause, resume, delete, backfill and
trigger. The leader fires them (see leader/cron.py); the workflow runs as
`(scheduled_time, context)`. Called from a workflow, create/list/get/pause/resume/delete are
operations (`DBOS.createSchedule`, ...); apply, backfill and trigger refuse to run there."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, TypedDict

import structlog

from .context import current_workflow
from .db.records import ScheduleRecord
from .db.schedules import ScheduleDefinition
from .errors import DBOSConfigError, DBOSWorkersError
from .handle import WorkflowHandle
from .leader.cron import enqueue_tick, parse_cron, parse_timezone, ticks_between
from .registry import INTERNAL_QUEUE, info_of
from .runtime import Runtime
from .steps import operation

log = structlog.get_logger("dbos_workers.schedules")
BACKFILL_LIMIT = 1_000_000


class WorkflowSchedule(TypedDict):
    """A schedule as DBOS returns it (a dict): last_fired_at is the ISO time of the last tick
    fired, in the schedule's zone."""

    schedule_id: str
    schedule_name: str
    workflow_name: str
    workflow_class_name: str | None
    schedule: str
    status: str
    context: Any
    last_fired_at: str | None
    automatic_backfill: bool
    cron_timezone: str | None
    queue_name: str | None
    application_name: str | None
    shard_key: str | None


class ScheduleInput(TypedDict, total=False):
    """One entry of DBOS.apply_schedules (schedule_name, workflow_fn and schedule required)."""

    schedule_name: str
    workflow_fn: Callable[..., Any]
    schedule: str
    context: Any
    automatic_backfill: bool
    cron_timezone: str | None
    queue_name: str | None
    shard_key: str | None


def _context(rt: Runtime, row: ScheduleRecord) -> Any:
    """The deserialized context, or its raw text when it no longer deserializes (as DBOS)."""
    if row.context is None:
        return None
    try:
        return rt.serializer.deserialize(row.context)
    except Exception as exc:
        log.warning("schedule_context_undeserializable", schedule=row.name, error=str(exc)[:200])
        return row.context


def _schedule(rt: Runtime, row: ScheduleRecord) -> WorkflowSchedule:
    last = None
    if row.last_fired_at is not None:
        zone = parse_timezone(row.cron_timezone)
        last = dt.datetime.fromtimestamp(row.last_fired_at / 1000, tz=zone).isoformat()
    return WorkflowSchedule(
        schedule_id=row.schedule_id, schedule_name=row.name, workflow_name=row.workflow_name,
        workflow_class_name=row.workflow_class_name, schedule=row.schedule, status=row.status,
        context=_context(rt, row), last_fired_at=last, automatic_backfill=row.automatic_backfill,
        cron_timezone=row.cron_timezone, queue_name=row.queue_name,
        application_name=row.application_name, shard_key=None)


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name or "\x00" in name or len(name) > 255:
        raise DBOSConfigError(f"schedule_name must be a non-empty string (<= 255 chars), got {name!r}")
    return name


def _definition(rt: Runtime, *, schedule_name: str, workflow_fn: Callable[..., Any], schedule: str,
                context: Any = None, automatic_backfill: bool = False, cron_timezone: str | None = None,
                queue_name: str | None = None, shard_key: str | None = None) -> ScheduleDefinition:
    name = _check_name(schedule_name)
    parse_cron(schedule)
    parse_timezone(cron_timezone)
    if shard_key is not None:
        raise DBOSConfigError("Scheduling under a shard key requires a sharded system database")
    info = info_of(workflow_fn)
    if rt.registry.workflows.get(info.name) is None:
        raise DBOSWorkersError(f"Workflow function '{info.name}' is not registered")
    if queue_name is not None and queue_name != INTERNAL_QUEUE and queue_name not in rt.registry.queues:
        raise DBOSConfigError(f"Queue '{queue_name}' is not declared. Please create the queue "
                              "before using it in a schedule.")
    return ScheduleDefinition(uuid.uuid4().hex, name, info.name, info.class_name, schedule,
                              rt.serializer.serialize(context), bool(automatic_backfill),
                              cron_timezone, queue_name)


def create(rt: Runtime, **fields: Any) -> None:
    d = _definition(rt, **fields)

    def do(ctx: Any, __: int) -> None:
        if rt.db.schedules.create(d, rt.settings.name):
            return
        existing = rt.db.schedules.get(d.name)
        # A workflow replaying its own create (its checkpoint was lost) finds what it made.
        if ctx is not None and existing is not None and _same(existing, d):
            return
        raise DBOSWorkersError(f"Schedule '{d.name}' already exists")

    operation(rt, "DBOS.createSchedule", do)


def _same(row: ScheduleRecord, d: ScheduleDefinition) -> bool:
    return (row.workflow_name, row.schedule, row.context, row.cron_timezone, row.queue_name) == (
        d.workflow_name, d.schedule, d.context, d.cron_timezone, d.queue_name)


def _outside_workflows(api: str) -> None:
    if current_workflow() is not None:
        raise DBOSWorkersError(f"DBOS.{api} cannot be called from within a workflow")


def apply(rt: Runtime, entries: list[ScheduleInput]) -> None:
    """Create or replace every schedule at once (all or none): DBOS.apply_schedules."""
    _outside_workflows("apply_schedules")
    definitions: dict[str, ScheduleDefinition] = {}
    for i, entry in enumerate(entries):
        for required in ("schedule_name", "workflow_fn", "schedule"):
            if required not in entry:
                raise DBOSWorkersError(f"Schedule entry {i} is missing required field '{required}'")
        known: dict[str, Any] = {k: v for k, v in entry.items() if k in ScheduleInput.__annotations__}
        d = _definition(rt, **known)
        definitions.pop(d.name, None)
        definitions[d.name] = d  # the last entry of a name wins, as applied in order
    if definitions:
        rt.db.schedules.apply(list(definitions.values()), rt.settings.name)


def get(rt: Runtime, name: str) -> WorkflowSchedule | None:
    def read(_: Any, __: int) -> WorkflowSchedule | None:
        row = rt.db.schedules.get(name)
        return None if row is None else _schedule(rt, row)

    return operation(rt, "DBOS.getSchedule", read)  # type: ignore[no-any-return]


def list_all(rt: Runtime, status: str | list[str] | None, workflow_name: str | list[str] | None,
             prefix: str | list[str] | None, application_name: str | list[str] | None) -> list[WorkflowSchedule]:
    """This application's schedules (or those of application_name), filtered."""
    apps = rt.settings.name if application_name is None else application_name

    def read(_: Any, __: int) -> list[WorkflowSchedule]:
        rows = rt.db.schedules.find(status=status, workflow_name=workflow_name, prefix=prefix,
                                    application_name=apps)
        return [_schedule(rt, r) for r in rows]

    return operation(rt, "DBOS.listSchedules", read)  # type: ignore[no-any-return]


def set_status(rt: Runtime, name: str, status: str) -> None:
    """Pause or resume; a name that does not exist is a no-op (as DBOS)."""
    api = "DBOS.pauseSchedule" if status == "PAUSED" else "DBOS.resumeSchedule"
    operation(rt, api, lambda _, __: rt.db.schedules.set_status(name, status))


def delete(rt: Runtime, name: str) -> None:
    operation(rt, "DBOS.deleteSchedule", lambda _, __: rt.db.schedules.delete(name))


def _existing(rt: Runtime, name: str) -> ScheduleRecord:
    row = rt.db.schedules.get(name)
    if row is None:
        raise DBOSWorkersError(f"Schedule '{name}' does not exist")
    return row


def backfill(rt: Runtime, name: str, start: dt.datetime, end: dt.datetime) -> list[WorkflowHandle[Any]]:
    """Enqueue every tick strictly between start and end (naive times are UTC) under the ids
    the leader uses, so ticks already run are not run again; a handle per tick."""
    _outside_workflows("backfill_schedule")
    row = _existing(rt, name)
    start, end = (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC) for t in (start, end))
    after_ms = int(start.timestamp() * 1000)
    until_ms = int(end.timestamp() * 1000) + 1
    ticks = [t for t in ticks_between(row.schedule, after_ms, until_ms, row.cron_timezone, BACKFILL_LIMIT)
             if start < t < end]
    return [enqueue_tick(rt, row, t, f"sched-{name}-{t.isoformat()}") for t in ticks]


def trigger(rt: Runtime, name: str) -> WorkflowHandle[Any]:
    """Enqueue a run of the schedule now, as `sched-<name>-trigger-<now>`."""
    _outside_workflows("trigger_schedule")
    row = _existing(rt, name)
    now = dt.datetime.fromtimestamp(rt.clock.now_ms() / 1000, tz=dt.UTC)
    return enqueue_tick(rt, row, now, f"sched-{name}-trigger-{now.isoformat()}")

"""The DBOS classmethods over messages in bulk, events, streams, waits and schedules (a base
of the DBOS façade, so dbos.py stays small). Each is a thin call into its module."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator
from typing import Any

from . import messages as _messages
from . import schedules as _schedules
from . import streams, waits
from .errors import DBOSWorkersError
from .handle import BACKSTOP_SEC, WorkflowHandle
from .messages import SendMessage
from .runtime import Runtime
from .schedules import ScheduleInput, WorkflowSchedule


class CommsAPI:
    @classmethod
    def _rt(cls) -> Runtime:  # the DBOS façade provides it
        raise NotImplementedError

    # Messages and events --------------------------------------------------------------------
    @classmethod
    def send_bulk(cls, messages: list[SendMessage], *, send_to_forks: bool = False) -> None:
        """Send many messages in one transaction (all or none); in a workflow, one operation."""
        if send_to_forks:
            raise DBOSWorkersError("send_bulk(send_to_forks=True) is not supported yet")
        _messages.send_bulk(cls._rt(), list(messages))

    @classmethod
    def get_all_events(cls, workflow_id: str) -> dict[str, Any]:
        """Every event the workflow has set, with its latest value."""
        return _messages.get_all_events(cls._rt(), workflow_id)

    # Streams ---------------------------------------------------------------------------------
    @classmethod
    def write_stream(cls, key: str, value: Any) -> None:
        """Append a value to this workflow's stream `key` (from a workflow or a step)."""
        streams.write_stream(cls._rt(), key, value)

    @classmethod
    def close_stream(cls, key: str) -> None:
        """Close this workflow's stream `key`: readers stop at this point."""
        streams.close_stream(cls._rt(), key)

    @classmethod
    def read_stream(cls, workflow_id: str, key: str, *, offset: int = 0,
                    polling_interval_sec: float | None = None,
                    timeout_seconds: float | None = None) -> Generator[Any, None, None]:
        """Yield the stream's values in order until it is closed or its workflow ends; each
        wait is woken by NOTIFY (polling_interval_sec is the backstop re-read), and gives up
        after timeout_seconds per value (DBOSStreamTimeoutError)."""
        return streams.read_stream(cls._rt(), workflow_id, key, offset=offset,
                                   polling_interval_sec=polling_interval_sec, timeout_seconds=timeout_seconds)

    @classmethod
    def read_stream_offset(cls, workflow_id: str, key: str, offset: int, *,
                           polling_interval_sec: float | None = None,
                           timeout_seconds: float | None = None) -> Any:
        """The one value at `offset` of the stream, waiting for it to be written."""
        return streams.read_stream_offset(cls._rt(), workflow_id, key, offset,
                                          polling_interval_sec=polling_interval_sec,
                                          timeout_seconds=timeout_seconds)

    # Waits -----------------------------------------------------------------------------------
    @classmethod
    def wait_first(cls, handles: list[WorkflowHandle[Any]], *,
                   polling_interval_sec: float = BACKSTOP_SEC) -> WorkflowHandle[Any]:
        """The handle of the first of these workflows to finish (any outcome)."""
        return waits.wait_first(cls._rt(), handles, polling_interval_sec=polling_interval_sec)

    # Schedules -------------------------------------------------------------------------------
    @classmethod
    def create_schedule(cls, *, schedule_name: str, workflow_fn: Callable[..., Any], schedule: str,
                        context: Any = None, automatic_backfill: bool = False,
                        cron_timezone: str | None = None, queue_name: str | None = None,
                        shard_key: str | None = None) -> None:
        """Store a schedule; the leader runs workflow_fn(scheduled_time, context) at each tick.
        A schedule of that name existing already is an error."""
        _schedules.create(cls._rt(), schedule_name=schedule_name, workflow_fn=workflow_fn, schedule=schedule,
                         context=context, automatic_backfill=automatic_backfill,
                         cron_timezone=cron_timezone, queue_name=queue_name, shard_key=shard_key)

    @classmethod
    def apply_schedules(cls, schedules: list[ScheduleInput]) -> None:
        """Create or replace these schedules at once (keeping each one's id, status and last
        tick fired): for static schedules declared at startup."""
        _schedules.apply(cls._rt(), list(schedules))

    @classmethod
    def list_schedules(cls, *, status: str | list[str] | None = None,
                       workflow_name: str | list[str] | None = None,
                       schedule_name_prefix: str | list[str] | None = None,
                       application_name: str | list[str] | None = None) -> list[WorkflowSchedule]:
        return _schedules.list_all(cls._rt(), status, workflow_name, schedule_name_prefix, application_name)

    @classmethod
    def get_schedule(cls, name: str) -> WorkflowSchedule | None:
        return _schedules.get(cls._rt(), name)

    @classmethod
    def pause_schedule(cls, name: str) -> None:
        _schedules.set_status(cls._rt(), name, "PAUSED")

    @classmethod
    def resume_schedule(cls, name: str) -> None:
        _schedules.set_status(cls._rt(), name, "ACTIVE")

    @classmethod
    def delete_schedule(cls, name: str) -> None:
        _schedules.delete(cls._rt(), name)

    @classmethod
    def backfill_schedule(cls, schedule_name: str, start: dt.datetime,
                          end: dt.datetime) -> list[WorkflowHandle[None]]:
        """Enqueue every tick strictly between start and end that has not run (same ids as
        the leader's), returning a handle per tick."""
        return _schedules.backfill(cls._rt(), schedule_name, start, end)

    @classmethod
    def trigger_schedule(cls, schedule_name: str) -> WorkflowHandle[None]:
        """Enqueue a run of the schedule now."""
        return _schedules.trigger(cls._rt(), schedule_name)

"""Cancel, resume, fork, list: workflow management over the repository (DBOS and the client).

Every list filter DBOS 3.4 documents is honoured, or refused with DBOSUnsupportedFilterError
naming it; none is ignored."""

from __future__ import annotations

import builtins
import datetime
from typing import Any

from . import workflow_admin
from .db.admin import WorkflowFilter
from .db.leader import election_key
from .errors import DBOSUnsupportedFilterError
from .handle import WorkflowHandle
from .runtime import Runtime
from .status import WorkflowStatus, status_from_row
from .steps import operation

Names = str | builtins.list[str] | None
Time = str | datetime.datetime | None
_UNSUPPORTED = {
    "schedule_name": "cron runs are not tagged with their schedule's name (their ids are "
                     "sched-<name>-<tick>: filter with workflow_id_prefix)",
    "shard_key": "dbos-workers has no sharding", "parent_shard_key": "dbos-workers has no sharding",
}


def _names(value: Names) -> builtins.list[str] | None:
    """DBOS's str-or-list parameters; an empty list is no filter (as DBOS)."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    return items or None


def _ms(parameter: str, value: Time) -> int | None:
    """An ISO-8601 string (naive: local time, as DBOS) or a datetime, as epoch ms."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise DBOSUnsupportedFilterError(parameter, f"{value!r} is not an ISO-8601 time") from None
    return int(value.timestamp() * 1000)


def _count(parameter: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DBOSUnsupportedFilterError(parameter, f"must be an integer >= 0, got {value!r}")
    return value


def build_filter(*, workflow_ids: builtins.list[str] | None = None, status: Names = None,
                 start_time: Time = None, end_time: Time = None, completed_after: Time = None,
                 completed_before: Time = None, dequeued_after: Time = None,
                 dequeued_before: Time = None, name: Names = None, app_version: Names = None,
                 forked_from: Names = None, parent_workflow_id: Names = None, user: Names = None,
                 queue_name: Names = None, limit: int | None = None, offset: int | None = None,
                 sort_desc: bool = False, workflow_id_prefix: Names = None, load_input: bool = True,
                 load_output: bool = True, executor_id: Names = None, queues_only: bool = False,
                 was_forked_from: bool | None = None, is_fork: bool | None = None,
                 has_parent: bool | None = None, attributes: dict[str, Any] | None = None,
                 schedule_name: Names = None, application_name: Names = None,
                 shard_key: Names = None, parent_shard_key: Names = None) -> WorkflowFilter:
    """DBOS.list_workflows' keyword arguments as one WorkflowFilter (the query's terms)."""
    for parameter, given in (("schedule_name", schedule_name), ("shard_key", shard_key),
                             ("parent_shard_key", parent_shard_key)):
        if given is not None:
            raise DBOSUnsupportedFilterError(parameter, _UNSUPPORTED[parameter])
    if attributes is not None and not isinstance(attributes, dict):
        raise DBOSUnsupportedFilterError("attributes", "must be a dict (JSONB containment)")
    return WorkflowFilter(
        workflow_ids=list(workflow_ids) if workflow_ids else None, statuses=_names(status),
        start_ms=_ms("start_time", start_time), end_ms=_ms("end_time", end_time),
        completed_after_ms=_ms("completed_after", completed_after),
        completed_before_ms=_ms("completed_before", completed_before),
        dequeued_after_ms=_ms("dequeued_after", dequeued_after),
        dequeued_before_ms=_ms("dequeued_before", dequeued_before),
        names=_names(name), app_versions=_names(app_version), forked_from=_names(forked_from),
        parent_ids=_names(parent_workflow_id), users=_names(user), queue_names=_names(queue_name),
        executor_ids=_names(executor_id), application_names=_names(application_name),
        prefixes=_names(workflow_id_prefix), queues_only=bool(queues_only),
        was_forked_from=was_forked_from, is_fork=is_fork, has_parent=has_parent,
        attributes=attributes or None, limit=_count("limit", limit) or None,
        offset=_count("offset", offset) or 0, sort_desc=bool(sort_desc),
        load_input=bool(load_input), load_output=bool(load_output))


class Management:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def cancel(self, workflow_id: str) -> None:
        workflow_admin.cancel(self.rt, [workflow_id])

    def resume(self, workflow_id: str, queue_name: str | None = None) -> WorkflowHandle[Any]:
        return workflow_admin.resume(self.rt, [workflow_id], queue_name=queue_name)[0]

    def list_workflows(self, **filters: Any) -> builtins.list[WorkflowStatus]:
        """DBOS.list_workflows (a TypeError names an unknown keyword, as a signature would)."""
        f = build_filter(**filters)
        return operation(self.rt, "DBOS.listWorkflows",  # type: ignore[no-any-return]
                         lambda _, __: [status_from_row(self.rt, r) for r in self.rt.db.admin.search(f)])

    def list_queued_workflows(self, **filters: Any) -> builtins.list[WorkflowStatus]:
        """DBOS.list_queued_workflows: queued rows (ENQUEUED, PENDING, DELAYED unless a status
        is given), with list_workflows' filters bar queues_only, was_forked_from and
        schedule_name (as DBOS)."""
        for parameter in ("queues_only", "was_forked_from", "schedule_name"):
            if parameter in filters:
                raise TypeError(f"list_queued_workflows() got an unexpected keyword argument {parameter!r}")
        f = build_filter(queues_only=True, **filters)
        return operation(self.rt, "DBOS.listQueuedWorkflows",  # type: ignore[no-any-return]
                         lambda _, __: [status_from_row(self.rt, r) for r in self.rt.db.admin.search(f)])

    def leader(self) -> dict[str, Any] | None:
        """Which executor leads (cron, maintenance) and since when, or None."""
        row = self.rt.db.leader.current(election_key(self.rt.settings.schema, self.rt.settings.name))
        if row is None:
            return None
        return {"instance_id": row.instance_id, "executor_id": row.executor_id,
                "elected_at": row.elected_at, "renewed_at": row.renewed_at}

    def steps(self, workflow_id: str, *, load_output: bool = True, limit: int | None = None,
              offset: int | None = None) -> builtins.list[dict[str, Any]]:
        """DBOS's StepInfo: function_id, function_name, output, error, child_workflow_id,
        child_shard_key (None: no sharding), started_at_epoch_ms, completed_at_epoch_ms; in
        function_id order, `offset` rows skipped, at most `limit`."""
        first = _count("offset", offset) or 0
        count = _count("limit", limit)
        rows = self.rt.db.steps.recorded(workflow_id)[first:]
        out = []
        for r in rows[:count] if count is not None else rows:
            out.append({
                "function_id": r.function_id, "function_name": r.function_name,
                "output": self._load(r.output) if load_output else None,
                "error": self._load(r.error, error=True) if load_output else None,
                "child_workflow_id": r.child_workflow_id,
                "child_shard_key": None,
                "started_at_epoch_ms": r.started_at_ms,
                "completed_at_epoch_ms": r.completed_at_ms,
            })
        return out

    def _load(self, text: str | None, error: bool = False) -> Any:
        if text is None:
            return None
        return self.rt.serializer.deserialize_error(text) if error else self.rt.serializer.deserialize(text)

"""Management reads and writes (issue 13): list_workflows with every DBOS filter, fork, the
per-queue summary of `dbos-workers queue list`, and the schema version a client checks."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from .records import WorkflowRecord
from .repository import RollbackSignal, Tx
from .store import Store


@dataclass(frozen=True)
class WorkflowFilter:
    """list_workflows' filters as the query takes them: None is no filter; lists are ANY();
    times are epoch milliseconds (inclusive bounds, as DBOS)."""

    workflow_ids: list[str] | None = None
    statuses: list[str] | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    completed_after_ms: int | None = None
    completed_before_ms: int | None = None
    dequeued_after_ms: int | None = None
    dequeued_before_ms: int | None = None
    names: list[str] | None = None
    app_versions: list[str] | None = None
    forked_from: list[str] | None = None
    parent_ids: list[str] | None = None
    users: list[str] | None = None
    queue_names: list[str] | None = None
    executor_ids: list[str] | None = None
    application_names: list[str] | None = None
    prefixes: list[str] | None = None
    queues_only: bool = False
    was_forked_from: bool | None = None
    is_fork: bool | None = None
    has_parent: bool | None = None
    attributes: dict[str, Any] | None = None
    limit: int | None = None
    offset: int = 0
    sort_desc: bool = False
    load_input: bool = True
    load_output: bool = True


@dataclass(frozen=True)
class ForkRequest:
    workflow_id: str
    new_id: str
    start_step: int
    queue_name: str
    application_version: str | None
    timeout_ms: int | None


@dataclass(frozen=True)
class ForkResult:
    """found: the original exists; forked: the new row was written (False: the id is taken)."""

    found: bool
    forked: bool
    steps: int = 0
    events: int = 0
    streams: int = 0


@dataclass(frozen=True)
class QueueSummary:
    name: str
    enqueued: int
    parked: int
    pending: int
    delayed: int
    oldest_age_ms: int | None
    concurrency: int | None
    worker_concurrency: int | None
    rate_limit_max: int | None
    rate_limit_period_sec: float | None
    registered: bool


class AdminStore(Store):
    def search(self, f: WorkflowFilter) -> list[WorkflowRecord]:
        """The matching rows in created_at order (newest first with sort_desc), planned for
        the filters given (custom plans: unused filters fold away, LIMIT walks the index)."""
        params = {k: v for k, v in dataclasses.asdict(f).items() if k != "sort_desc"}
        params["attributes"] = None if f.attributes is None else json.dumps(f.attributes)

        def search(tx: Tx) -> list[dict[str, Any]]:
            tx.run("session_custom_plans_local")
            if f.sort_desc:
                return tx.all("workflow_search_desc", **params)
            return tx.all("workflow_search_asc", **params)

        rows: list[dict[str, Any]] = self.repo.call(search, transaction=True)
        return [WorkflowRecord.of(r) for r in rows]

    def fork(self, req: ForkRequest) -> ForkResult:
        """Write the fork and its copied history in one transaction (all or nothing)."""
        def fork(tx: Tx) -> ForkResult:
            row = tx.one("workflow_fork_insert", workflow_id=req.workflow_id, new_id=req.new_id,
                         queue_name=req.queue_name, application_version=req.application_version,
                         timeout_ms=req.timeout_ms, now_ms=self.now_ms(), channel=self.channel)
            assert row is not None
            if not row["found"] or row["forked_id"] is None:
                raise RollbackSignal(ForkResult(bool(row["found"]), False))
            copied = tx.one("workflow_fork_copy_history", workflow_id=req.workflow_id,
                            new_id=req.new_id, start_step=req.start_step)
            assert copied is not None
            return ForkResult(True, True, copied["steps"], copied["events"], copied["streams"])

        result: ForkResult = self.repo.call(fork, transaction=True)
        return result

    def queue_summary(self) -> list[QueueSummary]:
        rows = self.repo.all("queue_summary", now_ms=self.now_ms())
        return [QueueSummary(**r) for r in rows]

    def migrated_version(self) -> int | None:
        """The newest migration applied to this schema; None when it has none."""
        row = self.repo.one("schema_migrated_version")
        return None if row is None or row["version"] is None else int(row["version"])

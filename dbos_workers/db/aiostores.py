"""The system database for async code: the typed methods the asyncio paths use (waits,
starts, messages, events, management, stream reads), over AsyncRepository, returning the
same records as the sync stores. Group-committed writes (checkpoints, outcomes, enqueues)
stay on the flusher threads and are awaited through futures (aio/bridge.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ..clock import Clock
from ..errors import DuplicateKeyError
from .aiorepo import AsyncRepository, AsyncTx
from .messages import RACED_TRIES, Received
from .records import (
    QUEUE_FIELDS,
    Checkpoint,
    Inserted,
    NewWorkflow,
    Outcome,
    Ownership,
    QueueSettings,
    StepRecord,
    WorkflowRecord,
)
from .repository import RollbackSignal
from .streams import _OFFSET_RETRIES, StreamSlice, StreamWrite

_NEW_FIELDS = tuple(f.name for f in dataclasses.fields(NewWorkflow))


class AsyncSystemDatabase:
    def __init__(self, repo: AsyncRepository, channel: str, clock: Clock) -> None:
        self.repo, self.channel, self.clock = repo, channel, clock

    def now_ms(self) -> int:
        return self.clock.now_ms()

    # workflow_status -----------------------------------------------------------------------
    async def workflow_insert(self, new: NewWorkflow, *, notify: bool) -> Inserted | None:
        params = {f: getattr(new, f) for f in _NEW_FIELDS}
        row = await self.repo.one("workflow_insert", **params, now_ms=self.now_ms(),
                                  channel=self.channel, notify=notify)
        if row is None:
            return None
        return Inserted(row["inserted"], row["status"], row["name"], row["output"], row["error"],
                        row["class_name"], row["config_name"])

    async def workflow_deduplicated_holder(self, queue_name: str, deduplication_id: str) -> str | None:
        row = await self.repo.one("workflow_deduplicated_holder", queue_name=queue_name,
                                  deduplication_id=deduplication_id)
        return None if row is None else str(row["workflow_uuid"])

    async def workflow_outcome(self, workflow_id: str) -> Outcome | None:
        row = await self.repo.one("workflow_get_outcome", workflow_id=workflow_id)
        return None if row is None else Outcome(row["status"], row["output"], row["error"])

    async def workflow_get(self, workflow_id: str) -> WorkflowRecord | None:
        row = await self.repo.one("workflow_get", workflow_id=workflow_id)
        return None if row is None else WorkflowRecord.of(row)

    async def workflow_first_finished(self, workflow_ids: list[str]) -> str | None:
        row = await self.repo.one("workflow_first_finished", workflow_ids=workflow_ids)
        return None if row is None else str(row["workflow_uuid"])

    async def workflow_cancel(self, workflow_id: str) -> None:
        await self.repo.all("workflow_cancel", workflow_ids=[workflow_id], now_ms=self.now_ms(),
                            channel=self.channel)

    async def workflow_resume(self, workflow_id: str, *, queue_name: str | None,
                              default_queue: str) -> None:
        await self.repo.all("workflow_resume", workflow_ids=[workflow_id], queue_name=queue_name,
                            default_queue=default_queue, now_ms=self.now_ms(), channel=self.channel)

    # operation_outputs ---------------------------------------------------------------------
    async def steps_recorded(self, workflow_id: str) -> list[StepRecord]:
        return [StepRecord.of(r) for r in await self.repo.all("step_list", workflow_id=workflow_id)]

    async def step_get(self, workflow_id: str, function_id: int) -> StepRecord | None:
        row = await self.repo.one("step_get", workflow_id=workflow_id, function_id=function_id)
        if row is None:
            return None
        return StepRecord(function_id, row["function_name"], row["output"], row["error"],
                          row["child_workflow_id"])

    # notifications and events --------------------------------------------------------------
    async def message_send(self, message_id: str, destination_id: str, topic: str, body: str) -> None:
        await self.repo.all("message_send", message_id=message_id, destination_id=destination_id,
                            topic=topic, message=body, now_ms=self.now_ms(), channel=self.channel)

    async def message_receive(self, checkpoint: Checkpoint, topic: str, *, timed_out: bool,
                              check: Callable[[Ownership | None], None],
                              timeout_value: str) -> Received:
        """MessageStore.receive, awaited: consume and record in one transaction."""

        async def consume(tx: AsyncTx) -> Received:
            row = None if timed_out else await tx.one(
                "message_consume", workflow_id=checkpoint.workflow_id, topic=topic)
            for _ in range(RACED_TRIES):  # the oldest was taken meanwhile (db/messages.py)
                if row is None or row["message"] is not None:
                    break
                row = await tx.one("message_consume", workflow_id=checkpoint.workflow_id, topic=topic)
            if row is not None and row["message"] is None:
                return Received(False, None)  # still racing: the receiver's next look takes it
            if row is None and not timed_out:
                return Received(False, None)
            output = row["message"] if row else timeout_value
            rec = await tx.one("step_record", workflow_id=checkpoint.workflow_id,
                               function_id=checkpoint.function_id,
                               function_name=checkpoint.function_name, output=output, error=None,
                               child_workflow_id=None, started_at_ms=checkpoint.started_at_ms,
                               now_ms=self.now_ms(), owner_token=checkpoint.owner_token)
            owner = None if rec is None else Ownership(rec["status"], rec["owner_token"], rec["written"] > 0)
            check(owner)
            if owner is not None and not owner.written:
                raise RollbackSignal(Received(True, None))
            return Received(True, output)

        got: Received = await self.repo.call(consume, transaction=True)
        if got.found and got.output is None:
            row = await self.step_get(checkpoint.workflow_id, checkpoint.function_id)
            got = Received(True, row.output if row else None)
        return got

    async def event_set(self, workflow_id: str, key: str, value: str) -> None:
        await self.repo.all("event_set", workflow_id=workflow_id, key=key, value=value,
                            channel=self.channel)

    async def event_get(self, workflow_id: str, key: str) -> str | None:
        row = await self.repo.one("event_get", workflow_id=workflow_id, key=key)
        return None if row is None else str(row["value"])

    async def message_send_batch(self, message_ids: list[str], destination_ids: list[str],
                                 topics: list[str], bodies: list[str]) -> None:
        await self.repo.all("message_send_batch", message_ids=message_ids,
                            destination_ids=destination_ids, topics=topics, messages=bodies,
                            now_ms=self.now_ms(), channel=self.channel)

    async def events(self, workflow_id: str) -> dict[str, str]:
        return {r["key"]: r["value"] for r in await self.repo.all("event_list", workflow_id=workflow_id)}

    # queues --------------------------------------------------------------------------------
    async def queue_get(self, name: str) -> QueueSettings | None:
        row = await self.repo.one("queue_get", name=name)
        return None if row is None else QueueSettings.of(row)

    async def queue_find(self, application_names: list[str]) -> list[QueueSettings]:
        return [QueueSettings.of(r) for r in await self.repo.all("queue_list",
                                                                 application_names=application_names)]

    async def queue_update(self, q: QueueSettings) -> bool:
        params = {f: getattr(q, f) for f in QUEUE_FIELDS if f not in (
            "priority_enabled", "application_name", "database_backed")}
        return bool(await self.repo.all("queue_update", **params, now_ms=self.now_ms(),
                                        channel=self.channel))

    async def queue_upsert(self, q: QueueSettings, *, update_existing: bool) -> tuple[bool, str | None]:
        row = await self.repo.one("queue_upsert", **{f: getattr(q, f) for f in QUEUE_FIELDS},
                                  update_existing=update_existing, now_ms=self.now_ms(),
                                  channel=self.channel)
        assert row is not None
        return bool(row["inserted"]), row["owner"]

    async def app_version_latest(self, application_name: str) -> str | None:
        row = await self.repo.one("app_version_latest", application_name=application_name)
        return None if row is None else str(row["version"])

    async def queue_delete(self, name: str) -> None:
        await self.repo.all("queue_delete", name=name, channel=self.channel)

    # streams -------------------------------------------------------------------------------
    async def stream_write(self, w: StreamWrite) -> Ownership | None:
        """StreamStore.write, awaited (retried on a taken offset)."""
        for attempt in range(_OFFSET_RETRIES):
            try:
                row = await self.repo.one(
                    "stream_write", workflow_id=w.workflow_id, owner_token=w.owner_token, key=w.key,
                    value=w.value, serialization=w.serialization, function_id=w.function_id,
                    record=w.record_as is not None, function_name=w.record_as or "",
                    started_at_ms=w.started_at_ms, now_ms=self.now_ms(), channel=self.channel)
            except DuplicateKeyError as exc:
                if exc.constraint != "streams_pkey" or attempt == _OFFSET_RETRIES - 1:
                    raise
                continue
            return None if row is None else Ownership(row["status"], row["owner_token"], row["written"] > 0)
        raise AssertionError("unreachable")

    async def stream_read(self, workflow_id: str, key: str, offset: int, limit: int) -> StreamSlice:
        rows = await self.repo.all("stream_read", workflow_id=workflow_id, key=key, offset=offset,
                                   limit=limit)
        if not rows:
            return StreamSlice(None, [])
        values: list[str | None] = []
        for row in rows:
            if row["offset"] != offset + len(values):
                break
            values.append(row["value"])
        return StreamSlice(rows[0]["status"], values)

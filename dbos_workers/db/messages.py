"""notifications and workflow_events: send, the exactly-once receive, events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .records import Checkpoint, Ownership
from .repository import RollbackSignal, Tx
from .store import Store

RACED_TRIES = 10  # consume statements per receive when the oldest message is taken meanwhile


@dataclass(frozen=True, slots=True)
class Received:
    """found: a message was consumed and recorded (or an earlier try recorded one); output is
    the recorded value (None only when nothing was found)."""

    found: bool
    output: str | None


class MessageStore(Store):
    def send(self, message_id: str, destination_id: str, topic: str, body: str) -> None:
        """Insert a message (idempotent on its id) and wake the receiver. Raises
        MissingReferenceError when the destination workflow does not exist."""
        self.repo.all("message_send", message_id=message_id, destination_id=destination_id,
                      topic=topic, message=body, now_ms=self.now_ms(), channel=self.channel)

    def send_batch(self, message_ids: list[str], destination_ids: list[str], topics: list[str],
                   bodies: list[str]) -> None:
        """Insert several messages in one statement (all or none), each idempotent on its id.
        Raises MissingReferenceError when a destination workflow does not exist."""
        self.repo.all("message_send_batch", message_ids=message_ids, destination_ids=destination_ids,
                      topics=topics, messages=bodies, now_ms=self.now_ms(), channel=self.channel)

    def receive(self, checkpoint: Checkpoint, topic: str, *, timed_out: bool,
                check: Callable[[Ownership | None], None], timeout_value: str) -> Received:
        """In one transaction: consume the oldest message on the topic and record it as the
        workflow's operation `checkpoint.function_id` (timed out: record `timeout_value`).
        `check` sees the ownership the record found and raises to roll everything back."""

        def consume(tx: Tx) -> Received:
            row = None if timed_out else tx.one("message_consume", workflow_id=checkpoint.workflow_id,
                                                topic=topic)
            for _ in range(RACED_TRIES):  # the oldest was taken meanwhile: the next oldest
                if row is None or row["message"] is not None:
                    break
                row = tx.one("message_consume", workflow_id=checkpoint.workflow_id, topic=topic)
            if row is not None and row["message"] is None:
                return Received(False, None)  # still racing: the receiver's next look takes it
            if row is None and not timed_out:
                return Received(False, None)
            output = row["message"] if row else timeout_value
            rec = tx.one("step_record", workflow_id=checkpoint.workflow_id,
                         function_id=checkpoint.function_id, function_name=checkpoint.function_name,
                         output=output, error=None, child_workflow_id=None,
                         started_at_ms=checkpoint.started_at_ms,
                         now_ms=self.now_ms(), owner_token=checkpoint.owner_token)
            owner = None if rec is None else Ownership(rec["status"], rec["owner_token"], rec["written"] > 0)
            check(owner)
            if owner is not None and not owner.written:
                raise RollbackSignal(Received(True, None))  # an earlier try recorded it: keep that
            return Received(True, output)

        got: Received = self.repo.call(consume, transaction=True)
        if got.found and got.output is None:
            row = self.repo.one("step_get", workflow_id=checkpoint.workflow_id,
                                function_id=checkpoint.function_id)
            got = Received(True, row["output"] if row else None)
        return got

    def set_event(self, workflow_id: str, key: str, value: str) -> None:
        self.repo.all("event_set", workflow_id=workflow_id, key=key, value=value, channel=self.channel)

    def get_event(self, workflow_id: str, key: str) -> str | None:
        row = self.repo.one("event_get", workflow_id=workflow_id, key=key)
        return None if row is None else str(row["value"])

    def events(self, workflow_id: str) -> dict[str, str]:
        """Every event of a workflow: {key: serialized latest value}."""
        return {r["key"]: r["value"] for r in self.repo.all("event_list", workflow_id=workflow_id)}

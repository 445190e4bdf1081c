"""The Debouncer's statement: bounce a waiting debounced workflow (or tell who holds the key),
optionally checkpointed as the caller's operation in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .records import Checkpoint, Ownership
from .repository import RollbackSignal, Tx
from .store import Store


@dataclass(frozen=True, slots=True)
class Bounce:
    name: str
    queue_name: str
    deduplication_id: str
    delay_until_ms: int
    inputs: str
    serialization: str


@dataclass(frozen=True, slots=True)
class BounceResult:
    """bounced_workflow_id: the workflow pushed later; else who holds the key (None: free)."""

    bounced_workflow_id: str | None
    holder_workflow_id: str | None
    holder_is_debounced: bool
    holder_workflow_name: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"bounced_workflow_id": self.bounced_workflow_id, "holder_workflow_id": self.holder_workflow_id,
                "holder_is_debounced": self.holder_is_debounced, "holder_workflow_name": self.holder_workflow_name}

    @classmethod
    def of(cls, r: dict[str, Any]) -> BounceResult:
        return cls(r["bounced_workflow_id"], r["holder_workflow_id"], bool(r["holder_is_debounced"]),
                   r["holder_workflow_name"])


class DebounceStore(Store):
    def bounce(self, b: Bounce, checkpoint: Checkpoint | None = None,
               output_of: Callable[[BounceResult], str] = lambda _: "",
               check: Callable[[Ownership | None], None] = lambda _: None) -> BounceResult | None:
        """Bounce. With a checkpoint, record output_of(result) as that operation in the same
        transaction (`check` sees the ownership found and raises to roll back); returns None
        when an earlier try recorded it (read the recorded output)."""

        def run(tx: Tx) -> BounceResult | None:
            row = tx.one("debounce_bounce", name=b.name, queue_name=b.queue_name,
                         deduplication_id=b.deduplication_id, delay_until_ms=b.delay_until_ms,
                         inputs=b.inputs, serialization=b.serialization, now_ms=self.now_ms())
            assert row is not None  # one row always (a LEFT JOIN from a constant)
            result = BounceResult.of(row)
            if checkpoint is None:
                return result
            rec = tx.one("step_record", workflow_id=checkpoint.workflow_id,
                         function_id=checkpoint.function_id, function_name=checkpoint.function_name,
                         output=output_of(result), error=None, child_workflow_id=None,
                         started_at_ms=checkpoint.started_at_ms, now_ms=self.now_ms(),
                         owner_token=checkpoint.owner_token)
            owner = None if rec is None else Ownership(rec["status"], rec["owner_token"], rec["written"] > 0)
            check(owner)
            if owner is not None and not owner.written:
                raise RollbackSignal(None)  # an earlier try recorded it: keep that
            return result

        return self.repo.call(run, transaction=checkpoint is not None)

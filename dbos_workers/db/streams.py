"""streams: append a value at a stream's next offset (fenced by the owner token, optionally
checkpointed in the same statement) and read values from an offset with the writer's status."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DuplicateKeyError
from .records import Ownership
from .store import Store

_OFFSET_RETRIES = 50


@dataclass(frozen=True, slots=True)
class StreamWrite:
    """A value to append (value None: the close marker). record_as names the operation the
    write is checkpointed as (a write from a workflow); None for a write from a step."""

    workflow_id: str
    owner_token: str
    key: str
    value: str | None
    serialization: str | None
    function_id: int
    record_as: str | None = None
    started_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class StreamSlice:
    """status: the writer's status (None: no such workflow); values: the serialized values at
    offset, offset + 1, ... up to the first offset with nothing written (None: close marker)."""

    status: str | None
    values: list[str | None]


class StreamStore(Store):
    def write(self, w: StreamWrite) -> Ownership | None:
        """Append; the ownership the write found (None: the workflow row is gone)."""
        for attempt in range(_OFFSET_RETRIES):
            try:
                row = self.repo.one(
                    "stream_write", workflow_id=w.workflow_id, owner_token=w.owner_token, key=w.key,
                    value=w.value, serialization=w.serialization, function_id=w.function_id,
                    record=w.record_as is not None, function_name=w.record_as or "",
                    started_at_ms=w.started_at_ms, now_ms=self.now_ms(), channel=self.channel)
            except DuplicateKeyError as exc:
                # Another writer of this stream took the offset: retry on a fresh snapshot.
                if exc.constraint != "streams_pkey" or attempt == _OFFSET_RETRIES - 1:
                    raise
                continue
            return None if row is None else Ownership(row["status"], row["owner_token"], row["written"] > 0)
        raise AssertionError("unreachable")

    def read(self, workflow_id: str, key: str, offset: int, limit: int) -> StreamSlice:
        rows = self.repo.all("stream_read", workflow_id=workflow_id, key=key, offset=offset, limit=limit)
        if not rows:
            return StreamSlice(None, [])
        values: list[str | None] = []
        for row in rows:
            if row["offset"] != offset + len(values):
                break
            values.append(row["value"])
        return StreamSlice(rows[0]["status"], values)

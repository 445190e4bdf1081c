"""What the dashboard shows, read through the runtime's typed stores and the management API
(no SQL here). Values are rendered with repr(), truncated; a value this process cannot load
(a class the dashboard cannot import) shows as its stored text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..db.observe import DEPTH_CAP
from ..management import Management
from ..runtime import Runtime

PAGE = 50
STATUSES = ("ENQUEUED", "DELAYED", "PENDING", "SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")
MAX_TEXT = 2000


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


@dataclass(frozen=True)
class QueueRow:
    name: str
    depth: dict[str, int]
    head_age_sec: float | None
    finished_last_minute: int
    capped: bool


class DashboardData:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.mgmt = Management(rt)

    def now_ms(self) -> int:
        return self.rt.clock.now_ms()

    def queues(self) -> list[QueueRow]:
        db, now = self.rt.db.observe, self.now_ms()
        rows = db.queue_depth([self.rt.settings.name])
        rate = db.queue_rate(now - 60_000)
        names = sorted({r.queue_name for r in rows} | set(rate))
        out = []
        for name in names:
            mine = [r for r in rows if r.queue_name == name]
            head = next((r.head_created_at for r in mine if r.head_created_at is not None), None)
            out.append(QueueRow(name, {r.status: r.depth for r in mine},
                                None if head is None else max(0, now - head) / 1000.0,
                                rate.get(name, 0), any(r.depth >= DEPTH_CAP for r in mine)))
        return out

    def workflows(self, status: str | None, queue: str | None, name: str | None,
                  before: tuple[int, str] | None) -> list[dict[str, Any]]:
        return self.rt.db.observe.workflow_page(status=status, queue_name=queue, name=name, before=before,
                                                limit=PAGE)

    def workflow(self, workflow_id: str) -> dict[str, Any] | None:
        try:
            found: list[Any] = self.mgmt.list_workflows(workflow_ids=[workflow_id])
            if found and (isinstance(found[0].input, Exception) or isinstance(found[0].output, Exception)):
                raise ValueError("unreadable value")  # status.py hands back the load's exception
            values = None if not found else (shown(found[0].input), shown(found[0].output),
                                             None if found[0].error is None else shown(found[0].error))
        except Exception:  # a value this process cannot load: show the stored text
            record = self.rt.db.workflows.get(workflow_id)
            found = [] if record is None else [record]
            values = None if record is None else (record.inputs or "", record.output or "", record.error)
        if not found or values is None:
            return None
        status = found[0]
        steps = self._steps(workflow_id)
        return {"status": status, "input": values[0], "output": values[1], "error": values[2], "steps": steps,
                "children": [s for s in steps if s["child_workflow_id"]],
                "events": {k: shown(v) for k, v in self._events(workflow_id).items()},
                "messages": self._messages(workflow_id)}

    def _steps(self, workflow_id: str) -> list[dict[str, Any]]:
        try:
            steps = self.mgmt.steps(workflow_id)
        except Exception:
            steps = self.mgmt.steps(workflow_id, load_output=False)
        starts = [s["started_at_epoch_ms"] for s in steps if s["started_at_epoch_ms"] is not None]
        ends = [s["completed_at_epoch_ms"] for s in steps if s["completed_at_epoch_ms"] is not None]
        first, span = (min(starts), max(1, max(ends) - min(starts))) if starts and ends else (0, 1)
        for s in steps:
            start, end = s["started_at_epoch_ms"], s["completed_at_epoch_ms"]
            s["duration_ms"] = None if start is None or end is None else end - start
            s["offset_pct"] = 0.0 if start is None else round(100.0 * (start - first) / span, 1)
            s["width_pct"] = round(100.0 * (s["duration_ms"] or 0) / span, 1)
            s["output_text"] = shown(s["output"])
            s["error_text"] = None if s["error"] is None else shown(s["error"])
        return steps

    def _events(self, workflow_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, text in self.rt.db.messages.events(workflow_id).items():
            out[key] = self._load(text)
        return out

    def _messages(self, workflow_id: str) -> list[dict[str, Any]]:
        return [{"topic": m["topic"], "value": shown(self._load(m["message"])), "consumed": m["consumed"],
                 "at": m["created_at_epoch_ms"]} for m in self.rt.db.observe.messages(workflow_id)]

    def _load(self, text: str) -> Any:
        try:
            return self.rt.serializer.deserialize(text)
        except Exception:
            return text

    def executors(self) -> list[dict[str, Any]]:
        return self.rt.db.observe.executors()

    def leader(self) -> dict[str, Any] | None:
        return self.mgmt.leader()

    def schedules(self) -> list[Any]:
        from ..schedules import list_all

        return list_all(self.rt, None, None, None, None)

    def cancel(self, workflow_id: str) -> None:
        self.mgmt.cancel(workflow_id)

    def resume(self, workflow_id: str) -> None:
        self.mgmt.resume(workflow_id)

"""OpenTelemetry: one trace from the enqueue (app process, in-memory exporter) through the
workflow's execution in a worker process (spans appended to a JSON-lines file by every
process) to its steps, which are children of the workflow span."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dbos_workers import DBOS, Queue
from dbos_workers.tracing import TRACE_FILE_ENV
from tests.helpers import query, wait_until

pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = [pytest.mark.acceptance]
Launch = Callable[..., type[DBOS]]


def read_spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _workflows(kind: str) -> tuple[Any, Any, Any]:
    if kind == "thread":
        @DBOS.step()
        def first(i: int) -> int:
            return i + 1

        @DBOS.step()
        def second(i: int) -> int:
            return i * 10

        @DBOS.workflow()
        def traced(i: int) -> int:
            return second(first(i))

        return first, second, traced

    @DBOS.step()
    async def afirst(i: int) -> int:
        return i + 1

    @DBOS.step()
    async def asecond(i: int) -> int:
        return i * 10

    @DBOS.workflow()
    async def atraced(i: int) -> int:
        return await asecond(await afirst(i))

    return afirst, asecond, atraced


@pytest.mark.parametrize("kind", ["thread", "async"])
def test_one_trace_from_enqueue_to_steps_across_processes(
        launch: Launch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str, schema: str, kind: str) -> None:
    """The same for a workflow on a worker thread and for an async one on the worker's loop."""
    spans_file = tmp_path / "spans.jsonl"
    monkeypatch.setenv(TRACE_FILE_ENV, str(spans_file))
    q = Queue("obs_traced")
    first, second, traced = _workflows(kind)

    launch(worker_processes=1, enable_otlp=True)
    memory = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(memory))  # type: ignore[attr-defined]
    handle = q.enqueue(traced, 4)
    assert handle.get_result(timeout=60) == 50
    row = query(pg_url, schema, "SELECT trace_context, executor_id FROM workflow_status WHERE workflow_uuid = %s",
                handle.workflow_id)[0]
    assert row["executor_id"].endswith("/0")  # ran in the worker process

    enqueues = [s for s in memory.get_finished_spans() if s.name == "dbos.enqueue"]
    assert len(enqueues) == 1
    enqueue = enqueues[0].get_span_context()
    trace_id, enqueue_id = f"{enqueue.trace_id:032x}", f"{enqueue.span_id:016x}"
    assert row["trace_context"].startswith(f"00-{trace_id}-{enqueue_id}-")

    def worker_spans() -> list[dict[str, Any]]:
        spans = [s for s in read_spans(spans_file) if s["attributes"].get("dbos.workflow_id") == handle.workflow_id
                 or s["name"] == "dbos.step"]
        return spans if any(s["name"] == "dbos.workflow" for s in spans) else []

    spans = wait_until(worker_spans, 30, 0.1)
    workflow = next(s for s in spans if s["name"] == "dbos.workflow")
    assert workflow["pid"] != os.getpid()  # exported by the worker process
    assert workflow["trace_id"] == trace_id
    assert workflow["parent_span_id"] == enqueue_id
    assert workflow["attributes"]["dbos.status"] == "SUCCESS"
    steps = sorted((s for s in read_spans(spans_file) if s["name"] == "dbos.step" and s["trace_id"] == trace_id),
                   key=lambda s: s["attributes"]["dbos.function_id"])
    assert [s["attributes"]["dbos.step_name"] for s in steps] == [first.__qualname__, second.__qualname__]
    assert all(s["parent_span_id"] == workflow["span_id"] and s["pid"] == workflow["pid"] for s in steps)
    assert all(s["trace_id"] == trace_id for s in read_spans(spans_file) if s["name"] != "dbos.enqueue")

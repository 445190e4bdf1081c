"""OpenTelemetry spans (config `enable_otlp`, the `otel` extra): `dbos.enqueue` around an
enqueue, `dbos.workflow` around a workflow's execution, `dbos.step` around each step.

The enqueue span's W3C traceparent is written on the workflow row (`trace_context`, migration
17); the worker that claims the row starts the workflow span as its child, so one trace runs
from the enqueuing process through the claim to the steps and the outcome, across processes.

Exporters: the application's own TracerProvider if it set one before launch; otherwise one
with an OTLP/HTTP exporter per `otlp_traces_endpoints` (needs opentelemetry-exporter-otlp),
and, when DBOS_WORKERS_TRACE_FILE names a file, `JsonLinesExporter` (one JSON object per
finished span, appended by every process: a test or a local tool reads them back). Set up at
launch, before the fork: the workers inherit the provider.

Off (the default), each hook reads one module global and returns None.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog

from .errors import DBOSConfigError

if TYPE_CHECKING:
    from .config import Settings
    from .context import WorkflowContext
    from .db.records import NewWorkflow

log = structlog.get_logger("dbos_workers.tracing")
TRACE_FILE_ENV = "DBOS_WORKERS_TRACE_FILE"
_tracer: Any = None
_files: set[str] = set()
Span = tuple[Any, Any]  # (span, context token)


def configure(settings: Settings) -> None:
    """At launch: a tracer when enable_otlp is set (None otherwise)."""
    global _tracer
    obs = settings.observability
    if not obs.enable_otlp:
        _tracer = None
        return
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    except ImportError:
        raise DBOSConfigError("enable_otlp needs OpenTelemetry: pip install 'dbos-workers[otel]'") from None
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the application did not set one: ours
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        _add_otlp(provider, obs.otlp_traces_endpoints)
    path = os.environ.get(TRACE_FILE_ENV)
    if path and path not in _files:  # once per provider and file, whatever the launches
        _files.add(path)
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))  # type: ignore[arg-type]
    _tracer = provider.get_tracer("dbos_workers")


def _add_otlp(provider: Any, endpoints: Sequence[str]) -> None:
    if not endpoints:
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise DBOSConfigError("otlp_traces_endpoints needs opentelemetry-exporter-otlp-proto-http") from None
    for url in endpoints:
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))


def enabled() -> bool:
    return _tracer is not None


def start_enqueue(new: NewWorkflow) -> tuple[NewWorkflow, Span | None]:
    """An enqueue span; the row carries its traceparent."""
    tracer = _tracer
    if tracer is None or new.owner_token is not None:  # not queued: it runs here, in this trace
        return new, None
    from opentelemetry import trace

    span = tracer.start_span("dbos.enqueue", attributes={
        "dbos.workflow_id": new.workflow_id, "dbos.workflow_name": new.name,
        "dbos.queue_name": new.queue_name or ""}, kind=trace.SpanKind.PRODUCER)
    return dataclasses.replace(new, trace_context=_traceparent(span)), (span, None)


def start_workflow(ctx: WorkflowContext, name: str) -> Span | None:
    """The workflow span, child of the enqueue span when the row carries one (else of the
    current span), current in this thread until end()."""
    tracer = _tracer
    if tracer is None:
        return None
    from opentelemetry import context, trace

    parent = _extract(ctx.trace_parent) if ctx.trace_parent else None
    span = tracer.start_span("dbos.workflow", context=parent, kind=trace.SpanKind.CONSUMER, attributes={
        "dbos.workflow_id": ctx.workflow_id, "dbos.workflow_name": name,
        "dbos.queue_name": ctx.queue_name or "", "process.pid": os.getpid()})
    return span, context.attach(trace.set_span_in_context(span))


def start_step(name: str, function_id: int) -> Span | None:
    tracer = _tracer
    if tracer is None:
        return None
    from opentelemetry import context, trace

    span = tracer.start_span("dbos.step", attributes={"dbos.step_name": name, "dbos.function_id": function_id})
    return span, context.attach(trace.set_span_in_context(span))


def end(handle: Span | None, error: BaseException | None = None, status: str | None = None) -> None:
    if handle is None:
        return
    from opentelemetry import context, trace

    span, token = handle
    if token is not None:
        context.detach(token)
    if status is not None:
        span.set_attribute("dbos.status", status)
    if error is not None:
        span.record_exception(error)
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
    span.end()


def end_unwinding(handle: Span | None) -> None:
    """end() in a `finally`: an exception on its way out marks the span failed."""
    if handle is not None:
        end(handle, sys.exc_info()[1])


def outcome(status: str) -> None:
    """The workflow's outcome, on the current (workflow) span."""
    if _tracer is not None:
        from opentelemetry import trace

        trace.get_current_span().set_attribute("dbos.status", status)


def _traceparent(span: Any) -> str:
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, trace.set_span_in_context(span))
    return carrier.get("traceparent", "")


def _extract(traceparent: str) -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


class JsonLinesExporter:
    """A SpanExporter appending one JSON line per span to a file (O_APPEND: every process of
    the pool writes to the same file). For tests and local inspection, not production."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        lines = "".join(json.dumps(_span_dict(s)) + "\n" for s in spans).encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, lines)
            finally:
                os.close(fd)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _span_dict(span: Any) -> dict[str, Any]:
    ctx, parent = span.get_span_context(), span.parent
    return {"name": span.name, "trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}",
            "parent_span_id": f"{parent.span_id:016x}" if parent is not None else None,
            "start_ns": span.start_time, "end_ns": span.end_time, "pid": os.getpid(),
            "status": span.status.status_code.name, "attributes": dict(span.attributes or {})}
